import {
  DEFAULT_KEY_AGE_POLICY_DAYS,
  DEFAULT_ROTATION_SCHEDULE,
  longestIntervalMs,
  ScheduleExpressionError,
  scheduleMeetsPolicy,
  schedulePolicyProblems,
} from '../src/schedule';
import { parseTargetsManifest } from '../src/manifest';

const DAY = 86_400_000;
const HOUR = 3_600_000;

describe('longestIntervalMs', () => {
  it('finds the 31-day gap of the monthly default', () => {
    expect(longestIntervalMs(DEFAULT_ROTATION_SCHEDULE)).toBe(31 * DAY);
  });

  it.each([
    ['rate(7 days)', 7 * DAY],
    ['rate(1 hour)', HOUR],
    ['rate(90 minutes)', 90 * 60_000],
    // Weekly on Monday (AWS counts days of the week from Sunday = 1).
    ['cron(0 3 ? * 2 *)', 7 * DAY],
    ['cron(0 3 ? * MON *)', 7 * DAY],
    // Weekdays: Friday to Monday is the longest gap.
    ['cron(0 12 ? * MON-FRI *)', 3 * DAY],
    // The last Friday of the month (6L): five weeks at most.
    ['cron(0 10 ? * 6L *)', 35 * DAY],
    // Quarterly, on the 1st: Oct to Jan, Jan to Apr… 92 days at most.
    ['cron(0 0 1 1/3 ? *)', 92 * DAY],
    // On the 15th and the last day of the month: the 15th to the 31st.
    ['cron(0 0 15,L * ? *)', 16 * DAY],
  ])('%s runs at most %d ms apart', (expression, gap) => {
    expect(longestIntervalMs(expression)).toBe(gap);
  });

  it.each([
    // AWS's start/step form, and a schedule too dense to enumerate: sampled per day, so at
    // most a day over the real gap, never under it.
    ['cron(0 1/6 * * ? *)', 6 * HOUR],
    ['cron(0/30 * * * ? *)', 30 * 60_000],
  ])('%s: at least its real gap (%d ms), at most a day more', (expression, gap) => {
    const found = longestIntervalMs(expression);
    expect(found).toBeGreaterThanOrEqual(gap);
    expect(found).toBeLessThanOrEqual(gap + DAY);
  });

  it.each([
    ['at(2027-01-01T00:00:00)', 'one-time at(…) does not recur'],
    ['cron(0 0 1 * ?)', 'a cron has 6 fields, this one 5'],
    ['cron(0 0 1 * ? 2027)', 'a year other than * stops running'],
    ['rate(0 days)', 'a rate is a whole number'],
    ['rate(2 weeks)', 'a rate is a whole number'],
  ])('refuses %s, saying why', (expression, problem) => {
    expect(() => longestIntervalMs(expression)).toThrow(ScheduleExpressionError);
    expect(() => longestIntervalMs(expression)).toThrow(problem);
  });
});

describe('scheduleMeetsPolicy', () => {
  it('accepts the default schedule under the default policy: defaults never alarm on themselves', () => {
    expect(
      scheduleMeetsPolicy(DEFAULT_ROTATION_SCHEDULE, DEFAULT_KEY_AGE_POLICY_DAYS),
    ).toBeUndefined();
  });

  it('refuses the default schedule under a 31-day policy, naming the days and the fix', () => {
    // The seed's setup: monthly, policy 31 days. In a 31-day month the key reaches 31 days
    // and the rotation's own time.
    expect(scheduleMeetsPolicy(DEFAULT_ROTATION_SCHEDULE, 31)).toBe(
      'runs up to 31.00 days apart, and a rotation may take 6 h: a key may reach 31.25 days, ' +
        'over the 31-day policy (use a policy of at least 32 days, or run more often)',
    );
  });

  it('accepts a weekly schedule under an 8-day policy and refuses it under 7', () => {
    expect(scheduleMeetsPolicy('cron(0 3 ? * MON *)', 8)).toBeUndefined();
    expect(scheduleMeetsPolicy('cron(0 3 ? * MON *)', 7)).toMatch(/over the 7-day policy/);
  });
});

describe('schedulePolicyProblems (the package-time check of the targets manifest)', () => {
  const manifest = (entries: Record<string, unknown>[]) =>
    parseTargetsManifest({
      targets: entries.map((e, i) => ({
        name: `t${i}`,
        apiKeyName: `key-${i}`,
        usagePlanId: `plan${i}`,
        distributionId: `E${i}AAAAAAAAAAA`,
        originId: 'origin',
        ...e,
      })),
    });

  it('passes the defaults: monthly schedule, 32-day policy', () => {
    const m = manifest([{}]);
    expect(m.targets[0]).toMatchObject({
      schedule: DEFAULT_ROTATION_SCHEDULE,
      keyAgePolicyDays: 32,
    });
    expect(schedulePolicyProblems(m)).toEqual([]);
  });

  it('names each entry whose schedule cannot meet its policy, and only those', () => {
    const m = manifest([
      { keyAgePolicyDays: 31 },
      { schedule: 'rate(28 days)', keyAgePolicyDays: 31 },
      { schedule: 'cron(0 0 1 * ? 2027)' },
    ]);
    expect(schedulePolicyProblems(m)).toEqual([
      expect.stringMatching(
        /^targets\[0\] \(t0\): schedule: cron\(0 0 1 \* \? \*\) runs up to 31\.00 days apart.*over the 31-day policy/,
      ),
      'targets[2] (t2): schedule: cron(0 0 1 * ? 2027): a year other than * stops running',
    ]);
  });
});
