import {
  errorOf,
  isOutcome,
  rotationState,
  type CurrentKeyRecord,
  type Lock,
  type StepRecord,
  type TargetState,
} from '@keyrot/shared';
import type { CliContext } from '../context';
import { EXIT, type ExitCode } from '../errors';
import { render, type Column } from '../output';
import { opensRotation, REJECTED_TARGET } from '../steps';
import { knownTargets } from '../targets';
import { DAY_MS, days, parsePositive } from '../time';

export interface StatusOptions {
  readonly policyDays: string;
  /** Only targets whose key is older than this many days (or of unknown age). */
  readonly olderThan?: string;
}

/** One target's line of `keyrot status`. */
export interface TargetStatus {
  readonly target: string;
  readonly source: 'file' | 'ledger';
  readonly currentKey: CurrentKeyRecord['key'] | null;
  readonly keyCreatedAt: string | null;
  /** Age of the current key in days; null when keyrot never issued the target's key. */
  readonly keyAgeDays: number | null;
  readonly overPolicy: boolean;
  readonly lastRotation: {
    readonly rotationId: string;
    readonly outcome: string;
    readonly at: string;
    readonly error?: string;
  } | null;
  /**
   * The newest request the functions rejected (bad input, untrusted sender) since the target's
   * last rotation started. The ledger records a rejected event under target `-` (it was not
   * trusted, so neither was the target it named): every target shows it.
   */
  readonly lastRejected: {
    readonly rotationId: string;
    readonly at: string;
    readonly field: string | null;
    readonly message: string;
  } | null;
  readonly inFlight: {
    readonly rotationId: string;
    readonly step: string;
    readonly since: string;
    readonly lockExpiresAt: string;
    readonly stale: boolean;
  } | null;
  /**
   * The target's newest drift (the drift guard's DRIFT record): what the edge sent, and
   * whether keyrot healed it (`healed`, `heal-failed`, `healing`) or, the key being live,
   * only alarmed (`not-overwritten`). Null when none is in the recent history.
   */
  readonly lastDrift: {
    readonly rotationId: string;
    readonly at: string;
    readonly observedFingerprint: string | null;
    readonly state: 'healed' | 'heal-failed' | 'healing' | 'not-overwritten' | 'not-healed';
  } | null;
}

const COLUMNS: readonly Column<TargetStatus>[] = [
  { header: 'target', value: (s) => s.target },
  { header: 'key id', value: (s) => s.currentKey?.id },
  { header: 'fingerprint', value: (s) => s.currentKey?.fingerprint },
  { header: 'key created', value: (s) => s.keyCreatedAt },
  {
    header: 'age (days)',
    value: (s) => (s.keyAgeDays === null ? 'unknown' : s.keyAgeDays.toFixed(2)),
  },
  { header: 'policy', value: (s) => (s.overPolicy ? 'OVER' : 'ok') },
  { header: 'last rotation', value: (s) => s.lastRotation?.rotationId },
  {
    header: 'outcome',
    value: (s) =>
      s.lastRotation &&
      `${s.lastRotation.outcome}${s.lastRotation.error ? ` (${s.lastRotation.error})` : ''}`,
  },
  { header: 'ended', value: (s) => s.lastRotation?.at },
  {
    header: 'last rejected',
    value: (s) => s.lastRejected && rejectionText(s.lastRejected),
  },
  {
    header: 'last drift',
    value: (s) =>
      s.lastDrift &&
      `${s.lastDrift.at} edge sent ${s.lastDrift.observedFingerprint ?? 'no header'}: ${s.lastDrift.state}`,
  },
  {
    header: 'in flight',
    value: (s) =>
      s.inFlight &&
      `${s.inFlight.rotationId} at ${s.inFlight.step}${s.inFlight.stale ? ' (STALE LOCK)' : ''}`,
  },
];

/**
 * `keyrot status`: every known target (targets file and ledger registry) with its current key
 * (id, fingerprint, age against the policy), its last rotation and outcome, and the rotation
 * in flight with its step. Reads: one Query for the registry, one for the current keys, then
 * per target one on its partition (lock) and its history until the last outcome.
 */
export async function status(ctx: CliContext, options: StatusOptions): Promise<ExitCode> {
  const policyDays = parsePositive('--policy-days', options.policyDays, 3650);
  const olderThan =
    options.olderThan === undefined
      ? undefined
      : parsePositive('--older-than', options.olderThan, 3650);
  const now = ctx.clock.now();
  const targets = await knownTargets(ctx.targetsFile, ctx.ledger);
  // "Keys older than N days" is one Query on the KEYS partition of GSI2, sorted by creation.
  const cutoff =
    olderThan === undefined
      ? undefined
      : new Date(now.getTime() - olderThan * DAY_MS).toISOString();
  const keys = new Map(
    (await ctx.ledger.currentKeys(cutoff ? { createdBefore: cutoff } : {})).map((k) => [
      k.target,
      k,
    ]),
  );
  const rejections = await recentRejections(ctx);
  const rows: TargetStatus[] = [];
  for (const [name, known] of targets) {
    const state = await ctx.ledger.targetState(name);
    // With --older-than, a target whose key keyrot never issued (age unknown) is listed too.
    if (cutoff && !keys.has(name) && state.currentKey) continue;
    const row = await targetStatus(ctx, state, known.source, policyDays, now);
    // A rejection that named this target, or named none it could be told by.
    const rejected = rejections.find(
      (r) => r.claimedTarget === undefined || r.claimedTarget === name,
    );
    const started = rejected && (await lastStart(ctx, name));
    rows.push({
      ...row,
      lastRejected:
        rejected && (!started || rejected.at > started)
          ? {
              rotationId: rejected.rotationId,
              at: rejected.at,
              field: rejected.field,
              message: rejected.message,
            }
          : null,
    });
  }
  ctx.print(render(ctx.output, COLUMNS, rows, rows));
  return EXIT.ok;
}

async function targetStatus(
  ctx: CliContext,
  state: TargetState,
  source: 'file' | 'ledger',
  policyDays: number,
  now: Date,
): Promise<Omit<TargetStatus, 'lastRejected'>> {
  const { target, currentKey: current } = state;
  const ageMs = current ? now.getTime() - Date.parse(current.keyCreatedAt) : null;
  return {
    target,
    source,
    currentKey: current?.key ?? null,
    keyCreatedAt: current?.keyCreatedAt ?? null,
    keyAgeDays: ageMs === null ? null : Number(days(ageMs)),
    overPolicy: ageMs === null || ageMs > policyDays * DAY_MS,
    lastRotation: await lastOutcome(ctx, target),
    inFlight: state.lock ? await inFlight(ctx, state.lock, now) : null,
    lastDrift: await lastDrift(ctx, target),
  };
}

/** How many of a target's newest steps `status` reads for its last drift. */
const DRIFT_STEPS_READ = 200;

/** The target's newest DRIFT record and how it ended (newest first on GSI1). */
async function lastDrift(ctx: CliContext, target: string): Promise<TargetStatus['lastDrift']> {
  const closed = new Map<string, 'healed' | 'heal-failed'>();
  let read = 0;
  for await (const step of ctx.ledger.targetHistory(target)) {
    if (++read > DRIFT_STEPS_READ) break;
    if (step.step === 'HEALED') closed.set(step.rotationId, 'healed');
    if (step.step === 'HEAL_FAILED') closed.set(step.rotationId, 'heal-failed');
    if (step.step !== 'DRIFT') continue;
    const state =
      closed.get(step.rotationId) ??
      (step.healing ? 'healing' : step.observedKeyLive ? 'not-overwritten' : 'not-healed');
    return {
      rotationId: step.rotationId,
      at: step.at,
      observedFingerprint: step.observedFingerprint,
      state,
    };
  }
  return null;
}

/** The newest outcome in the target's history (newest first on GSI1, read until found). */
async function lastOutcome(ctx: CliContext, target: string): Promise<TargetStatus['lastRotation']> {
  for await (const step of ctx.ledger.targetHistory(target)) {
    if (isOutcome(step.step)) {
      const error = errorOf(step);
      return {
        rotationId: step.rotationId,
        outcome: step.step,
        at: step.at,
        ...(error && { error: error.name }),
      };
    }
  }
  return null;
}

/** `<at> <message>`, the field named first unless the message names it already. */
export function rejectionText(r: NonNullable<TargetStatus['lastRejected']>): string {
  const field = r.field && !r.message.includes(r.field) ? `${r.field}: ` : '';
  return `${r.at} ${field}${r.message} (${r.rotationId})`;
}

/** How many of the newest rejections `status` looks through (one Query page). */
const REJECTIONS_READ = 50;

/**
 * The newest REJECTED entries (target `-`, newest first on GSI1), each with the target its
 * request claimed, if it named one.
 */
async function recentRejections(ctx: CliContext) {
  const found: (NonNullable<TargetStatus['lastRejected']> & { claimedTarget?: string })[] = [];
  for await (const step of ctx.ledger.targetHistory(REJECTED_TARGET)) {
    if (step.step !== 'REJECTED') continue;
    found.push({
      rotationId: step.rotationId,
      at: step.at,
      field: step.error?.field ?? null,
      message: step.error?.message ?? 'no error recorded',
      ...(step.claimedTarget !== undefined && { claimedTarget: step.claimedTarget }),
    });
    if (found.length >= REJECTIONS_READ) break;
  }
  return found;
}

/** When the target's newest rotation started (its opening step), if it ever had one. */
async function lastStart(ctx: CliContext, target: string): Promise<string | undefined> {
  for await (const step of ctx.ledger.targetHistory(target)) {
    // A drift record is not a rotation.
    if (opensRotation(step) && step.step !== 'DRIFT') return step.at;
  }
  return undefined;
}

async function inFlight(ctx: CliContext, lock: Lock, now: Date): Promise<TargetStatus['inFlight']> {
  const steps: StepRecord[] = await ctx.ledger.timeline(lock.rotationId);
  const last = steps[steps.length - 1];
  const closed = rotationState(steps).phase === 'ended';
  return {
    rotationId: lock.rotationId,
    step: last?.step ?? 'none',
    since: lock.acquiredAt,
    lockExpiresAt: lock.expiresAt,
    stale: closed || lock.expiresAt < now.toISOString(),
  };
}
