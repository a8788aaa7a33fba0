import * as z from 'zod/mini';
import { InvalidInputError, UntrustedEventError } from '../errors';
import { targetSchema, type Target } from './target';

/**
 * The two AWS events (not keyrot's) that start the drift guard's look at the edge, as the
 * edge-updater's checkEdge receives them: CloudTrail's record of an `UpdateDistribution`,
 * delivered to the edge account's default bus in us-east-1 (CloudFront's API region), and
 * the hourly schedule's `Scheduled Event`. Only the fields keyrot reads are checked.
 */
export const CLOUDTRAIL_DETAIL_TYPE = 'AWS API Call via CloudTrail';
export const SCHEDULED_DETAIL_TYPE = 'Scheduled Event';

const cloudTrailUpdateSchema = z.object({
  id: z.string().check(z.minLength(1)),
  account: z.string(),
  source: z.literal('aws.cloudfront'),
  'detail-type': z.literal(CLOUDTRAIL_DETAIL_TYPE),
  detail: z.object({
    eventSource: z.literal('cloudfront.amazonaws.com'),
    eventName: z.literal('UpdateDistribution'),
    requestParameters: z.object({ id: z.string().check(z.minLength(1), z.maxLength(128)) }),
  }),
});

const scheduledSchema = z.object({
  id: z.string().check(z.minLength(1)),
  account: z.string(),
  source: z.literal('aws.events'),
  'detail-type': z.literal(SCHEDULED_DETAIL_TYPE),
});

/** What made checkEdge run: a distribution's update (which one), or the schedule (all). */
export type EdgeCheckTrigger =
  | { readonly trigger: 'cloudtrail'; readonly distributionId: string; readonly eventId: string }
  | { readonly trigger: 'schedule'; readonly eventId: string };

/**
 * Reads checkEdge's event: from `account` only (the edge account's own CloudTrail and
 * schedule), either kind. Throws {@link UntrustedEventError} or {@link InvalidInputError}
 * naming the field.
 */
export function parseEdgeCheckTrigger(raw: unknown, account: string): EdgeCheckTrigger {
  const source = (raw as { source?: unknown } | null)?.source;
  const schema = source === 'aws.events' ? scheduledSchema : cloudTrailUpdateSchema;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const [issue] = parsed.error.issues;
    const path = ['event', ...(issue?.path ?? []).map(String)].join('.');
    throw new InvalidInputError(path, issue?.message ?? 'invalid');
  }
  if (parsed.data.account !== account) {
    throw new UntrustedEventError('account', account, parsed.data.account);
  }
  const event = parsed.data;
  return 'detail' in event
    ? {
        trigger: 'cloudtrail',
        distributionId: event.detail.requestParameters.id,
        eventId: event.id,
      }
    : { trigger: 'schedule', eventId: event.id };
}

/**
 * The targets the drift guard watches (`driftGuard: true` in keyrot.targets.yml), as the
 * stacks hand them to checkEdge and checkDrift: `DRIFT_GUARD_TARGETS`, a JSON list of targets.
 */
export function parseDriftGuardTargets(json: string | undefined): Target[] {
  if (json === undefined || json.trim() === '') return [];
  let document: unknown;
  try {
    document = JSON.parse(json);
  } catch {
    throw new InvalidInputError('DRIFT_GUARD_TARGETS', 'must be a JSON list of targets');
  }
  const parsed = z.array(targetSchema).safeParse(document);
  if (!parsed.success) {
    const [issue] = parsed.error.issues;
    const path = ['DRIFT_GUARD_TARGETS', ...(issue?.path ?? []).map(String)].join('.');
    throw new InvalidInputError(path, issue?.message ?? 'invalid');
  }
  return parsed.data;
}
