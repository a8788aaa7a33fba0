import type { CurrentKeyRecord, ErrorSummary, KeyRef, StepRecord } from '@keyrot/shared';
import { errorOf, monthsBetween, reasonOf, rotationState } from '@keyrot/shared';
import { DAY_MS } from '../time';

/** What the report needs of one rotation, read from its timeline. */
export interface RotationFacts {
  readonly rotationId: string;
  readonly target: string;
  readonly outcome: 'COMPLETED' | 'FAILED' | 'REFUSED';
  /** Its first step (REQUESTED, or REFUSED for a refused request). */
  readonly requestedAt: string;
  /** Its outcome step. */
  readonly endedAt: string;
  readonly reason?: string;
  readonly newKey?: KeyRef;
  /** When the new key was created (KEY_CREATED). */
  readonly keyCreatedAt?: string;
  readonly error?: ErrorSummary;
  /** Where a failure happened: issue, edge or retire. */
  readonly stage?: string;
}

/** A rotation's facts from its steps; undefined while in flight, or for a rejected event. */
export function rotationFacts(steps: readonly StepRecord[]): RotationFacts | undefined {
  const state = rotationState(steps);
  const { outcome } = state;
  if (!outcome || outcome.step === 'REJECTED') return undefined;
  const first = steps.reduce((a, b) => (b.at < a.at ? b : a));
  const created = state.step('KEY_CREATED');
  const reason = state.requested?.reason ?? reasonOf(outcome);
  const error = errorOf(outcome);
  return {
    rotationId: outcome.rotationId,
    target: outcome.target,
    outcome: outcome.step,
    requestedAt: first.at,
    endedAt: outcome.at,
    ...(reason && { reason }),
    ...(created && { newKey: created.newKey, keyCreatedAt: created.at }),
    ...(error && { error }),
    ...(outcome.step === 'FAILED' && { stage: outcome.stage }),
  };
}

/** The key a target used when the window opened, if the ledger knows it. */
export interface KeyAtStart {
  readonly key: KeyRef;
  readonly createdAt: string;
}

/** A key's life inside the window. */
export interface KeyLife {
  /** null: a key the ledger has no record of (it predates keyrot's first rotation). */
  readonly key: KeyRef | null;
  readonly createdAt: string | null;
  readonly from: string;
  readonly until: string;
  /** Its age when it left service (or at the window's end); counted from the window's start when its creation is unknown. */
  readonly maxAgeMs: number;
  /** True when `maxAgeMs` is only a lower bound (creation unknown). */
  readonly lowerBound: boolean;
}

export interface PeriodStats {
  readonly completed: number;
  readonly failed: number;
  readonly refused: number;
  readonly meanDurationMs: number | null;
  readonly p95DurationMs: number | null;
  readonly maxKeyAgeMs: number;
  readonly maxKeyAgeLowerBound: boolean;
  readonly compliant: boolean;
  /** `Name[field]: count` for each kind of failure. */
  readonly failureReasons: readonly { reason: string; count: number }[];
}

export interface MonthStats extends PeriodStats {
  readonly month: string;
}

export interface TargetReport extends PeriodStats {
  readonly target: string;
  readonly months: readonly MonthStats[];
  readonly rotations: readonly RotationFacts[];
  readonly failures: readonly RotationFacts[];
  readonly keys: readonly KeyLife[];
}

export interface KeyOverPolicy {
  readonly target: string;
  readonly key: KeyRef;
  readonly keyCreatedAt: string;
  readonly ageMs: number;
}

export interface ComplianceReport {
  readonly since: string;
  readonly until: string;
  readonly generatedAt: string;
  readonly policyDays: number;
  readonly targets: readonly TargetReport[];
  /** Events rejected before they could be trusted (no target): malformed or untrusted. */
  readonly rejectedEvents: number;
  /** Keys older than the policy now (the ledger's "keys older than N days" Query). */
  readonly overPolicyNow: readonly KeyOverPolicy[];
}

export interface ReportInput {
  readonly since: string;
  readonly until: string;
  readonly generatedAt: string;
  readonly policyDays: number;
  /** Every target to report on, with or without rotations in the window. */
  readonly targets: readonly string[];
  readonly rotations: readonly RotationFacts[];
  readonly keysAtStart: ReadonlyMap<string, KeyAtStart>;
  readonly rejectedEvents: number;
  readonly currentKeys: readonly CurrentKeyRecord[];
}

/** The mean of the values, or null for none. */
export function mean(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
}

/** The p-th percentile by the nearest-rank method (the smallest value ≥ p % of them), or null. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? null;
}

const ms = (iso: string) => Date.parse(iso);

/**
 * The lives of a target's keys inside the window: the key in use at its start, then each key a
 * completed rotation issued, until the next completed rotation (or the window's end).
 */
export function keyLives(
  completed: readonly RotationFacts[],
  atStart: KeyAtStart | undefined,
  since: string,
  until: string,
): KeyLife[] {
  const lives: KeyLife[] = [];
  let current = { key: atStart?.key ?? null, createdAt: atStart?.createdAt ?? null, from: since };
  const close = (end: string) => {
    const createdAt = current.createdAt;
    lives.push({
      ...current,
      until: end,
      maxAgeMs: ms(end) - ms(createdAt ?? since),
      lowerBound: createdAt === null,
    });
  };
  for (const rotation of [...completed].sort((a, b) => a.endedAt.localeCompare(b.endedAt))) {
    close(rotation.endedAt);
    current = {
      key: rotation.newKey ?? null,
      createdAt: rotation.keyCreatedAt ?? rotation.endedAt,
      from: rotation.endedAt,
    };
  }
  close(until);
  return lives;
}

/** The largest key age within [from, to), each life's age taken at its end inside the period. */
function maxAgeIn(lives: readonly KeyLife[], from: string, to: string, since: string) {
  let maxKeyAgeMs = 0;
  let maxKeyAgeLowerBound = false;
  for (const life of lives) {
    if (life.until < from || life.from >= to) continue;
    const end = life.until < to ? life.until : to;
    const age = ms(end) - ms(life.createdAt ?? since);
    if (age > maxKeyAgeMs) {
      maxKeyAgeMs = age;
      maxKeyAgeLowerBound = life.createdAt === null;
    }
  }
  return { maxKeyAgeMs, maxKeyAgeLowerBound };
}

function stats(
  rotations: readonly RotationFacts[],
  age: { maxKeyAgeMs: number; maxKeyAgeLowerBound: boolean },
  policyMs: number,
): PeriodStats {
  const completed = rotations.filter((r) => r.outcome === 'COMPLETED');
  const failed = rotations.filter((r) => r.outcome === 'FAILED');
  const durations = completed.map((r) => ms(r.endedAt) - ms(r.requestedAt));
  const reasons = new Map<string, number>();
  for (const f of failed) {
    const reason = `${f.error?.name ?? 'unknown'}${f.error?.field ? `[${f.error.field}]` : ''}`;
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  return {
    completed: completed.length,
    failed: failed.length,
    refused: rotations.filter((r) => r.outcome === 'REFUSED').length,
    meanDurationMs: mean(durations),
    p95DurationMs: percentile(durations, 95),
    ...age,
    compliant: age.maxKeyAgeMs <= policyMs,
    failureReasons: [...reasons]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([reason, count]) => ({ reason, count })),
  };
}

/** `yyyy-mm` → its first instant, and the next month's. */
function monthBounds(month: string): [string, string] {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return [new Date(Date.UTC(y, m - 1, 1)).toISOString(), new Date(Date.UTC(y, m, 1)).toISOString()];
}

/**
 * The compliance report: per target, rotations (by the month they ended), failures and their
 * reasons, mean and p95 duration (request to completion, completed rotations only), and the
 * largest key age against the policy, for the window and for each of its months.
 */
export function buildReport(input: ReportInput): ComplianceReport {
  const policyMs = input.policyDays * DAY_MS;
  // A window ending at a month's first instant does not reach into that month.
  const lastInstant = new Date(Math.max(ms(input.since), ms(input.until) - 1)).toISOString();
  const months = monthsBetween(input.since, lastInstant);
  const targets = input.targets.map((target): TargetReport => {
    const rotations = input.rotations
      .filter((r) => r.target === target)
      .sort((a, b) => a.endedAt.localeCompare(b.endedAt));
    const lives = keyLives(
      rotations.filter((r) => r.outcome === 'COMPLETED'),
      input.keysAtStart.get(target),
      input.since,
      input.until,
    );
    return {
      target,
      ...stats(rotations, maxAgeIn(lives, input.since, input.until, input.since), policyMs),
      months: months.map((month) => {
        const [start, next] = monthBounds(month);
        const from = start > input.since ? start : input.since;
        const to = next < input.until ? next : input.until;
        const inMonth = rotations.filter((r) => r.endedAt.startsWith(month));
        return { month, ...stats(inMonth, maxAgeIn(lives, from, to, input.since), policyMs) };
      }),
      rotations,
      failures: rotations.filter((r) => r.outcome === 'FAILED'),
      keys: lives,
    };
  });
  return {
    since: input.since,
    until: input.until,
    generatedAt: input.generatedAt,
    policyDays: input.policyDays,
    targets,
    rejectedEvents: input.rejectedEvents,
    overPolicyNow: input.currentKeys
      .map((k) => ({
        target: k.target,
        key: k.key,
        keyCreatedAt: k.keyCreatedAt,
        ageMs: ms(input.generatedAt) - ms(k.keyCreatedAt),
      }))
      .filter((k) => k.ageMs > policyMs),
  };
}
