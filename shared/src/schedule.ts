import { Cron } from 'croner';
import { DEFAULT_LOCK_SECONDS } from './ledger/types';
import {
  DEFAULT_KEY_AGE_POLICY_DAYS,
  DEFAULT_ROTATION_SCHEDULE,
  type TargetsManifest,
} from './manifest';

export { DEFAULT_KEY_AGE_POLICY_DAYS, DEFAULT_ROTATION_SCHEDULE };

/**
 * Rotation schedules and the key-age policy they must meet. Used at package time and by the
 * CLI, never in a function, so it is not exported from the package's index (its cron
 * library stays out of the functions' bundles): import `@keyrot/shared/src/schedule`. a schedule whose longest gap between two runs, plus the time a
 * rotation may take, exceeds the policy would alarm on itself (issue 16).
 */

/** Longest a rotation may take, from its request to its old key retired: its lock (6 h). */
export const LONGEST_ROTATION_MS = DEFAULT_LOCK_SECONDS * 1000;

const DAY_MS = 86_400_000;

/** A schedule expression keyrot cannot reason about, naming what is wrong. */
export class ScheduleExpressionError extends Error {
  constructor(
    readonly expression: string,
    readonly problem: string,
  ) {
    super(`schedule ${expression}: ${problem}`);
    this.name = 'ScheduleExpressionError';
  }
}

const RATE_UNITS: Record<string, number> = {
  minute: 60_000,
  minutes: 60_000,
  hour: 3600_000,
  hours: 3600_000,
  day: DAY_MS,
  days: DAY_MS,
};

/** The span scanned for a cron's longest gap: two years, so every month length and a leap day. */
const SCAN_MS = 2 * 366 * DAY_MS;
/** Runs enumerated one by one before the scan samples the next run after each day instead. */
const MAX_RUNS = 2_000;

/**
 * The longest time between two runs of an EventBridge Scheduler expression (`rate(…)` or
 * `cron(…)` in UTC). For a cron it scans two years from `from`: run by run (exact) for
 * schedules that run up to about twice a day; for denser ones, the next run after each day's
 * start, which overestimates by under a day (on the safe side of a policy check).
 */
export function longestIntervalMs(expression: string, from = new Date('2027-01-01T00:00:00Z')) {
  const rate = /^rate\((\d+)\s+([a-z]+)\)$/.exec(expression);
  if (rate) {
    const [, count, unitName = ''] = rate;
    const unit = RATE_UNITS[unitName];
    if (unit === undefined || Number(count) < 1) {
      throw new ScheduleExpressionError(
        expression,
        'a rate is a whole number of minutes, hours or days',
      );
    }
    return Number(count) * unit;
  }
  const cron = /^cron\((.+)\)$/.exec(expression);
  if (!cron) {
    throw new ScheduleExpressionError(
      expression,
      'expected rate(…) or cron(…); one-time at(…) does not recur',
    );
  }
  const [, fields = ''] = cron;
  const job = new Cron(cronerPattern(expression, fields), { timezone: 'UTC' });
  const end = from.getTime() + SCAN_MS;
  const runs = (each: 'run' | 'day') => {
    const times: number[] = [];
    for (let t = from.getTime(); t < end && times.length <= MAX_RUNS;) {
      const run = job.nextRun(new Date(t))?.getTime();
      if (run === undefined) throw new ScheduleExpressionError(expression, 'it stops running');
      if (times.at(-1) !== run) times.push(run);
      t = each === 'run' ? run : t + DAY_MS;
    }
    return times;
  };
  let times = runs('run');
  if (times.length > MAX_RUNS) times = runs('day');
  const longest = times.reduce((max, t, i) => Math.max(max, t - (times[i - 1] ?? t)), 0);
  if (longest === 0) {
    throw new ScheduleExpressionError(expression, 'it runs less than twice in two years');
  }
  return longest;
}

/**
 * AWS's six cron fields (minutes hours day-of-month month day-of-week year; `?` for "any",
 * day-of-week 1–7 from Sunday) as croner's five (`*`, day-of-week 0–6 from Sunday).
 */
function cronerPattern(expression: string, fields: string): string {
  const parts = fields.trim().split(/\s+/);
  if (parts.length !== 6) {
    throw new ScheduleExpressionError(expression, `a cron has 6 fields, this one ${parts.length}`);
  }
  const [minutes, hours, dayOfMonth, month, dayOfWeek, year] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (year !== '*')
    throw new ScheduleExpressionError(expression, 'a year other than * stops running');
  const any = (field: string) => (field === '?' ? '*' : field);
  return [
    fromStep(minutes, 59),
    fromStep(hours, 23),
    fromStep(any(dayOfMonth), 31),
    fromStep(month, 12),
    fromStep(awsDayOfWeek(any(dayOfWeek)), 6),
  ].join(' ');
}

/** AWS's `5/15` (from 5, every 15) as croner's `5-59/15`. */
function fromStep(field: string, max: number): string {
  return field.replace(/(^|,)(\d+)\/(\d+)/g, (_, sep: string, start: string, step: string) => {
    return `${sep}${start}-${max}/${step}`;
  });
}

/** `2-6`, `6L`, `2#1`, `1,7`: AWS's Sunday = 1 becomes croner's Sunday = 0 (names unchanged). */
function awsDayOfWeek(field: string): string {
  return field
    .split(',')
    .map((token) => {
      const [range = '', step] = token.split('/');
      const [day = '', nth] = range.split('#');
      const shifted = day.replace(/\d+/g, (n) => String(Number(n) - 1));
      return `${shifted}${nth === undefined ? '' : `#${nth}`}${step === undefined ? '' : `/${step}`}`;
    })
    .join(',');
}

/**
 * Whether a schedule keeps keys within `policyDays`: its longest gap plus the longest
 * rotation. Returns the problem in words, or undefined when it does.
 */
export function scheduleMeetsPolicy(expression: string, policyDays: number): string | undefined {
  return policyProblem(longestIntervalMs(expression), policyDays);
}

function policyProblem(gapMs: number, policyDays: number): string | undefined {
  const needed = gapMs + LONGEST_ROTATION_MS;
  if (needed <= policyDays * DAY_MS) return undefined;
  const days = (ms: number) => (ms / DAY_MS).toFixed(2);
  return (
    `runs up to ${days(gapMs)} days apart, and a rotation may take ${LONGEST_ROTATION_MS / 3600_000} h: ` +
    `a key may reach ${days(needed)} days, over the ${policyDays}-day policy ` +
    `(use a policy of at least ${Math.ceil(needed / DAY_MS)} days, or run more often)`
  );
}

/**
 * The package-time check of a manifest: each target's schedule against its key-age policy,
 * one problem per target that cannot meet it, naming the entry and the field (the schedule
 * is computed once per distinct expression).
 */
export function schedulePolicyProblems(manifest: TargetsManifest): string[] {
  const verdicts = new Map<string, (policyDays: number) => string | undefined>();
  return manifest.targets.flatMap((target, index) => {
    let verdict = verdicts.get(target.schedule);
    if (!verdict) {
      try {
        const gapMs = longestIntervalMs(target.schedule);
        verdict = (policyDays) => {
          const problem = policyProblem(gapMs, policyDays);
          return problem && `${target.schedule} ${problem}`;
        };
      } catch (error) {
        const message = error instanceof ScheduleExpressionError ? error.problem : String(error);
        verdict = () => `${target.schedule}: ${message}`;
      }
      verdicts.set(target.schedule, verdict);
    }
    const problem = verdict(target.keyAgePolicyDays);
    return problem === undefined
      ? []
      : [`targets[${index}] (${target.name}): schedule: ${problem}`];
  });
}
