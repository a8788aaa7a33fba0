import {
  detailsOf,
  errorOf,
  keysOf as listedKeys,
  newKeyOf,
  reasonOf,
  rotationState,
  STEP_ORDER,
  type LedgerQueries,
  type StepRecord,
} from '@keyrot/shared';
import type { CliContext } from '../context';
import { EXIT, UnknownRotationError, UsageError, type ExitCode } from '../errors';
import { render, stableJson, toCsv, type Cell, type Column } from '../output';
import {
  actorText,
  describeStep,
  fingerprints,
  keyIds,
  keysOf,
  opensRotation,
  REJECTED_TARGET,
} from '../steps';
import { knownTargets, resolveTarget } from '../targets';
import { DAY_MS, parseCount, parseDate, seconds } from '../time';

/** One rotation of a target's history. */
export interface RotationRow {
  readonly rotationId: string;
  readonly target: string;
  readonly startedAt: string;
  readonly reason: string | null;
  readonly outcome: string;
  readonly endedAt: string | null;
  readonly durationSeconds: string | null;
  readonly newKey: { readonly id: string; readonly fingerprint: string } | null;
  readonly error: string | null;
}

const ROTATION_COLUMNS: readonly Column<RotationRow>[] = [
  { header: 'rotation', value: (r) => r.rotationId },
  { header: 'started', value: (r) => r.startedAt },
  { header: 'reason', value: (r) => r.reason },
  { header: 'outcome', value: (r) => r.outcome },
  { header: 'duration (s)', value: (r) => r.durationSeconds },
  { header: 'new key', value: (r) => r.newKey?.id },
  { header: 'fingerprint', value: (r) => r.newKey?.fingerprint },
  { header: 'error', value: (r) => r.error },
];

/** A rotation's steps, summed up in one row. */
export function rotationRow(steps: readonly [StepRecord, ...StepRecord[]]): RotationRow {
  const [first, ...rest] = [...steps].sort(byTimeline) as [StepRecord, ...StepRecord[]];
  const sorted = [first, ...rest];
  const last = rest[rest.length - 1] ?? first;
  const state = rotationState(sorted);
  const { outcome } = state;
  const newKey = state.step('KEY_CREATED')?.newKey ?? null;
  if (first.step === 'ADOPTED') {
    // Not a rotation: the operator's hand-over of a key, complete in its one step.
    return {
      rotationId: first.rotationId,
      target: first.target,
      startedAt: first.at,
      reason: 'adopt',
      outcome: 'ADOPTED',
      endedAt: first.at,
      durationSeconds: null,
      newKey: first.keys[0] ?? null,
      error: null,
    };
  }
  return {
    rotationId: first.rotationId,
    target: first.target,
    startedAt: first.at,
    reason: sorted.map(reasonOf).find((r) => r !== undefined) ?? null,
    outcome: outcome?.step ?? `IN_PROGRESS (${last.step})`,
    endedAt: outcome?.at ?? null,
    durationSeconds: outcome ? seconds(Date.parse(outcome.at) - Date.parse(first.at)) : null,
    newKey: newKey && { id: newKey.id, fingerprint: newKey.fingerprint },
    error: errorLine(outcome && errorOf(outcome)),
  };
}

const errorLine = (error: { name: string; message: string } | undefined) =>
  error ? `${error.name}: ${error.message}` : null;

/** A step's own fields (lock holder, stage, grace…) as the export's `facts`. */
function facts(step: StepRecord): string {
  const details = detailsOf(step);
  return Object.keys(details).length > 0 ? stableJson(details) : '';
}

export type NonEmpty<T> = [T, ...T[]];
export const isNonEmpty = <T>(list: T[]): list is NonEmpty<T> => list.length > 0;

/** The ledger's own step order (the sort key), the way `timeline` returns steps. */
export const byTimeline = (a: StepRecord, b: StepRecord) =>
  STEP_ORDER[a.step] - STEP_ORDER[b.step] || a.at.localeCompare(b.at);

export interface ListOptions {
  readonly target?: string;
  readonly limit: string;
  /** Leave out the events the functions rejected (listed by default). */
  readonly hideRejected?: boolean;
}

/**
 * `keyrot ledger list`: the target's history, newest rotation first, with the requests the
 * functions rejected (bad input, untrusted sender) among them unless `--hide-rejected`: a
 * rejected event is recorded under target `-` (docs/ledger.md), so it cannot be told apart by
 * target. Reads the target index (GSI1) newest first, page by page, until `limit` rotations
 * are whole (their opening step seen), and the `-` partition for the newest `limit`
 * rejections.
 */
export async function listRotations(ctx: CliContext, options: ListOptions): Promise<ExitCode> {
  const limit = parseCount('--limit', options.limit, 1000);
  const target = options.target ?? (await onlyTarget(ctx));
  const rows = await targetRotations(ctx, target, limit);
  if (rows.length === 0 && options.target) {
    // No history: a typo, or a target never rotated? Say which targets exist.
    await resolveTarget(options.target, ctx.targetsFile, ctx.ledger, ctx.table);
  }
  const rejected =
    options.hideRejected || target === REJECTED_TARGET ? [] : await rejections(ctx, limit);
  const merged = [...rows, ...rejected]
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt))
    .slice(0, limit);
  ctx.print(render(ctx.output, ROTATION_COLUMNS, merged, merged));
  if (rejected.some((r) => merged.includes(r))) {
    ctx.note(
      'REJECTED: requests a function refused to trust (bad input or sender); the ledger records them under target "-", whatever target they named. --hide-rejected leaves them out.',
    );
  }
  return EXIT.ok;
}

/** The newest `limit` rejected events, one row each. */
async function rejections(ctx: CliContext, limit: number): Promise<RotationRow[]> {
  const rows: RotationRow[] = [];
  for await (const step of ctx.ledger.targetHistory(REJECTED_TARGET)) {
    if (rows.length >= limit) break;
    if (step.step === 'REJECTED') rows.push(rotationRow([step]));
  }
  return rows;
}

/** The target's newest `limit` rotations, newest first. */
async function targetRotations(
  ctx: CliContext,
  target: string,
  limit: number,
): Promise<RotationRow[]> {
  const rotations = new Map<string, StepRecord[]>();
  const whole = new Set<string>();
  for await (const step of ctx.ledger.targetHistory(target)) {
    const steps = rotations.get(step.rotationId) ?? [];
    if (steps.length === 0 && whole.size >= limit) break;
    steps.push(step);
    rotations.set(step.rotationId, steps);
    if (opensRotation(step)) whole.add(step.rotationId);
  }
  return [...rotations.values()].filter(isNonEmpty).slice(0, limit).map(rotationRow);
}

/** The only known target; else a usage error listing them. */
async function onlyTarget(ctx: CliContext): Promise<string> {
  const known = [...(await knownTargets(ctx.targetsFile, ctx.ledger)).keys()];
  const [only] = known;
  if (only !== undefined && known.length === 1) return only;
  throw new UsageError(
    '--target',
    known.length === 0 ? 'no target is known yet' : `required: one of ${known.join(', ')}`,
  );
}

const STEP_COLUMNS: readonly Column<StepRecord & { offset: string }>[] = [
  { header: 'at', value: (s) => s.at },
  { header: '+s', value: (s) => s.offset },
  { header: 'step', value: (s) => s.step },
  { header: 'actor', value: (s) => actorText(s) },
  { header: 'request id', value: (s) => s.actor.requestId },
  { header: 'key ids', value: (s) => keyIds(keysOf(s)) },
  { header: 'fingerprints', value: (s) => fingerprints(keysOf(s)) },
  { header: 'what', value: (s) => describeStep(s) },
];

/** `keyrot ledger show <rotationId>`: one rotation's full timeline (one Query). */
export async function showRotation(ctx: CliContext, rotationId: string): Promise<ExitCode> {
  const steps = await ctx.ledger.timeline(rotationId);
  if (!isNonEmpty(steps)) throw new UnknownRotationError(rotationId, ctx.table);
  const origin = Date.parse(steps[0].at);
  const rows = steps.map((s) => ({ ...s, offset: seconds(Date.parse(s.at) - origin) }));
  if (ctx.output === 'table') {
    const row = rotationRow(steps);
    ctx.print(`rotation ${rotationId} of ${row.target}: ${row.outcome}\n`);
  }
  ctx.print(render(ctx.output, STEP_COLUMNS, rows, steps));
  return EXIT.ok;
}

export const EXPORT_FORMATS = ['jsonl', 'csv'] as const;

export interface ExportOptions {
  readonly since?: string;
  readonly until?: string;
  readonly target?: string;
  readonly format: string;
}

/** Field order of an exported step: the record's own order, for every line. */
export const EXPORT_FIELDS = [
  'rotationId',
  'target',
  'step',
  'at',
  'actor',
  'reason',
  'newKey',
  'keys',
  'targetSpec',
  'error',
] as const;

const CSV_HEADERS = [
  'rotation_id',
  'target',
  'step',
  'at',
  'actor_function',
  'actor_account',
  'actor_request_id',
  'reason',
  'new_key_id',
  'new_key_fingerprint',
  'key_ids',
  'key_fingerprints',
  'error_name',
  'error_field',
  'error_message',
  'error_retryable',
  'facts',
] as const;

export function exportCsvRow(s: StepRecord): Cell[] {
  return [
    s.rotationId,
    s.target,
    s.step,
    s.at,
    s.actor.function,
    s.actor.account,
    s.actor.requestId,
    reasonOf(s),
    newKeyOf(s)?.id,
    newKeyOf(s)?.fingerprint,
    keyIds(listedKeys(s) ?? []),
    fingerprints(listedKeys(s) ?? []),
    errorOf(s)?.name,
    errorOf(s)?.field,
    errorOf(s)?.message,
    errorOf(s)?.retryable,
    facts(s),
  ];
}

/** An ISO window from `--since`/`--until` (defaults: a year back, now). */
export function timeWindow(ctx: CliContext, since: string | undefined, until: string | undefined) {
  const now = ctx.clock.now();
  const from = since ? parseDate('--since', since) : new Date(now.getTime() - 365 * DAY_MS);
  const to = until ? parseDate('--until', until) : now;
  if (from > now) throw new UsageError('--since', `${since} is in the future`);
  if (to <= from)
    throw new UsageError('--until', `${until} is not after --since ${from.toISOString()}`);
  if (to.getTime() - from.getTime() > 3660 * DAY_MS) {
    throw new UsageError('--since', 'the window may span at most 10 years');
  }
  return { since: from.toISOString(), until: to.toISOString() };
}

/**
 * Every step of every rotation that ended in the window (the outcome index, GSI2, one Query
 * per month), plus the rotations still in flight (the targets' locks), each rotation's steps
 * read with one Query. Rotations in order of their first step; steps in timeline order.
 */
export async function rotationsInWindow(
  ledger: LedgerQueries,
  range: { since: string; until: string },
  inFlight: readonly string[],
  target?: string,
): Promise<NonEmpty<StepRecord>[]> {
  const ids: string[] = [];
  for await (const outcome of ledger.outcomes(range)) {
    if (target && outcome.target !== target) continue;
    if (!ids.includes(outcome.rotationId)) ids.push(outcome.rotationId);
  }
  for (const id of inFlight) if (!ids.includes(id)) ids.push(id);
  const rotations: NonEmpty<StepRecord>[] = [];
  for (const id of ids) {
    const steps = await ledger.timeline(id);
    if (isNonEmpty(steps) && (!target || steps[0].target === target)) rotations.push(steps);
  }
  const start = (steps: NonEmpty<StepRecord>) =>
    steps.reduce((min, s) => (s.at < min ? s.at : min), steps[0].at);
  return rotations.sort(
    (a, b) => start(a).localeCompare(start(b)) || a[0].rotationId.localeCompare(b[0].rotationId),
  );
}

/** Rotation ids holding a lock now (in flight), across the known targets. */
export async function rotationsInFlight(ctx: CliContext, target?: string): Promise<string[]> {
  const names = target ? [target] : [...(await knownTargets(ctx.targetsFile, ctx.ledger)).keys()];
  const ids: string[] = [];
  for (const name of names) {
    const lock = (await ctx.ledger.targetState(name)).lock;
    if (lock) ids.push(lock.rotationId);
  }
  return ids;
}

/**
 * `keyrot ledger export`: every step of the window's rotations, for auditors, as JSON Lines
 * (one ledger item per line, fields in a fixed order) or CSV (one step per row).
 */
export async function exportLedger(ctx: CliContext, options: ExportOptions): Promise<ExitCode> {
  if (!(EXPORT_FORMATS as readonly string[]).includes(options.format)) {
    throw new UsageError(
      '--format',
      `"${options.format}" is not one of ${EXPORT_FORMATS.join(', ')}`,
    );
  }
  const range = timeWindow(ctx, options.since, options.until);
  if (options.target) await resolveTarget(options.target, ctx.targetsFile, ctx.ledger, ctx.table);
  const rotations = await rotationsInWindow(
    ctx.ledger,
    range,
    await rotationsInFlight(ctx, options.target),
    options.target,
  );
  const steps = rotations.flat();
  ctx.print(
    options.format === 'csv'
      ? toCsv(CSV_HEADERS, steps.map(exportCsvRow))
      : steps.map((s) => `${stableJson(s, EXPORT_FIELDS)}\n`).join(''),
  );
  return EXIT.ok;
}
