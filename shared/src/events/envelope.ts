import * as z from 'zod/mini';
import { InvalidInputError, UntrustedEventError } from '../errors';
import { DETAIL_SCHEMAS, EVENT_SOURCE, type DetailOf, type DetailType } from './schemas';

/** The EventBridge envelope fields keyrot reads (what Lambda receives from a rule). */
const envelopeSchema = z.object({
  id: z.string().check(z.minLength(1)),
  account: z.string(),
  source: z.string(),
  'detail-type': z.string(),
  time: z.optional(z.string()),
  detail: z.unknown(),
});

/** A validated event; a union over `detailType`, so checking it narrows `detail`. */
export type TrustedEvent<T extends DetailType> = {
  [K in T]: {
    readonly id: string;
    readonly account: string;
    readonly detailType: K;
    readonly time?: string;
    readonly detail: DetailOf[K];
  };
}[T];

export interface Trust<T extends DetailType> {
  /** Account ids allowed to have put this event. */
  readonly accounts: readonly string[];
  readonly detailTypes: readonly T[];
  /** Accounts for one detail-type instead of `accounts` (e.g. the edge's own re-check). */
  readonly accountsOf?: Partial<Readonly<Record<T, readonly string[]>>>;
}

/**
 * Checks where an event comes from, then validates its `detail` against the schema of its
 * `detail-type`. Throws {@link UntrustedEventError} or {@link InvalidInputError} naming the
 * field; nothing is trusted before this returns.
 */
export function parseEvent<T extends DetailType>(raw: unknown, trust: Trust<T>): TrustedEvent<T> {
  const envelope = envelopeSchema.safeParse(raw);
  if (!envelope.success) throw toInvalidInput(envelope.error, 'event');
  const event = envelope.data;
  if (event.source !== EVENT_SOURCE) {
    throw new UntrustedEventError('source', EVENT_SOURCE, event.source);
  }
  const detailType = event['detail-type'] as T;
  const accounts = trust.accountsOf?.[detailType] ?? trust.accounts;
  if (!accounts.includes(event.account)) {
    throw new UntrustedEventError('account', accounts.join(' or '), event.account);
  }
  if (!trust.detailTypes.includes(detailType)) {
    throw new UntrustedEventError('detail-type', trust.detailTypes.join(' or '), detailType);
  }
  return {
    id: event.id,
    account: event.account,
    detailType,
    ...(event.time !== undefined && { time: event.time }),
    detail: parseDetail(detailType, event.detail),
  } as TrustedEvent<T>;
}

/** Validates a `detail` of the given type; errors name the path, e.g. `detail.target.originId`. */
export function parseDetail<T extends DetailType>(detailType: T, detail: unknown): DetailOf[T] {
  const result = DETAIL_SCHEMAS[detailType].safeParse(detail);
  if (!result.success) throw toInvalidInput(result.error, 'detail');
  return result.data as DetailOf[T];
}

function toInvalidInput(error: z.core.$ZodError, root: string): InvalidInputError {
  const issue = deepestIssue(error.issues);
  const path = [root, ...issue.path.map(String)].join('.');
  return new InvalidInputError(path, issue.message);
}

type Issue = z.core.$ZodIssue;

/**
 * The issue that names the bad field best. For a union (the seed's flat form or the
 * structured one) the branch with the fewest issues is the form the sender meant; within
 * it, the deepest path is the most precise.
 */
function deepestIssue(issues: readonly Issue[]): Issue {
  const expanded = issues.flatMap((issue): Issue[] => {
    if (issue.code !== 'invalid_union' || issue.errors.length === 0) return [issue];
    const closest = issue.errors.reduce((a, b) => (b.length < a.length ? b : a));
    const nested = deepestIssue(closest);
    return [{ ...nested, path: [...issue.path, ...nested.path] }];
  });
  return expanded.reduce((a, b) => (b.path.length > a.path.length ? b : a));
}
