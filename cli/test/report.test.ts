import {
  buildReport,
  keyLives,
  mean,
  percentile,
  rotationFacts,
  type ReportInput,
  type RotationFacts,
} from '../src/report/model';
import { escapeHtml, renderCsv, renderHtml, renderMarkdown } from '../src/report/render';
import { actor, API_ACCOUNT } from '../../test/support/fixtures';

const KEY_A = { id: 'keya', fingerprint: 'aaaaaaaaaaaa' };
const KEY_B = { id: 'keyb', fingerprint: 'bbbbbbbbbbbb' };
const KEY_C = { id: 'keyc', fingerprint: 'cccccccccccc' };

const completed = (
  rotationId: string,
  requestedAt: string,
  endedAt: string,
  newKey = KEY_B,
): RotationFacts => ({
  rotationId,
  target: 'shop',
  outcome: 'COMPLETED',
  requestedAt,
  endedAt,
  reason: 'scheduled',
  newKey,
  keyCreatedAt: requestedAt,
});

const failed = (rotationId: string, at: string, name: string, field?: string): RotationFacts => ({
  rotationId,
  target: 'shop',
  outcome: 'FAILED',
  requestedAt: at,
  endedAt: at,
  error: { name, message: 'it broke', retryable: false, ...(field && { field }) },
  stage: 'edge',
});

function input(overrides: Partial<ReportInput> = {}): ReportInput {
  return {
    since: '2026-09-01T00:00:00.000Z',
    until: '2026-11-01T00:00:00.000Z',
    generatedAt: '2026-11-01T00:00:00.000Z',
    policyDays: 31,
    targets: ['shop'],
    rotations: [],
    keysAtStart: new Map(),
    rejectedEvents: 0,
    currentKeys: [],
    ...overrides,
  };
}

describe('report math', () => {
  it('takes the mean, and the 95th percentile by nearest rank', () => {
    expect(mean([])).toBeNull();
    expect(mean([1, 2, 6])).toBe(3);
    expect(percentile([], 95)).toBeNull();
    expect(percentile([5], 95)).toBe(5);
    expect(percentile([3, 1, 2], 95)).toBe(3);
    // 20 values: the 19th smallest is the nearest-rank p95.
    expect(
      percentile(
        Array.from({ length: 20 }, (_, i) => i + 1),
        95,
      ),
    ).toBe(19);
    expect(
      percentile(
        Array.from({ length: 21 }, (_, i) => i + 1),
        95,
      ),
    ).toBe(20);
  });

  it('follows each key from the rotation that made it to the one that retired it', () => {
    const lives = keyLives(
      [
        completed('r2', '2026-10-01T00:00:00.000Z', '2026-10-01T00:10:00.000Z', KEY_C),
        completed('r1', '2026-09-10T00:00:00.000Z', '2026-09-10T00:10:00.000Z', KEY_B),
      ],
      { key: KEY_A, createdAt: '2026-08-20T00:00:00.000Z' },
      '2026-09-01T00:00:00.000Z',
      '2026-11-01T00:00:00.000Z',
    );
    expect(
      lives.map((l) => [l.key?.id, l.from, l.until, l.maxAgeMs / 86_400_000, l.lowerBound]),
    ).toEqual([
      ['keya', '2026-09-01T00:00:00.000Z', '2026-09-10T00:10:00.000Z', 21 + 10 / 1440, false],
      ['keyb', '2026-09-10T00:10:00.000Z', '2026-10-01T00:10:00.000Z', 21 + 10 / 1440, false],
      ['keyc', '2026-10-01T00:10:00.000Z', '2026-11-01T00:00:00.000Z', 31, false],
    ]);
  });

  it('counts a key of unknown creation from the start of the window, as a lower bound', () => {
    const [life] = keyLives([], undefined, '2026-09-01T00:00:00.000Z', '2026-09-03T00:00:00.000Z');
    expect(life).toMatchObject({
      key: null,
      createdAt: null,
      maxAgeMs: 2 * 86_400_000,
      lowerBound: true,
    });
  });

  it('reads a rotation from its steps: first step to outcome, new key and its creation', () => {
    const step = (s: string, at: string, extra = {}) => ({
      rotationId: 'r1',
      target: 'shop',
      step: s,
      at,
      actor: actor(API_ACCOUNT),
      ...extra,
    });
    const facts = rotationFacts([
      step('REQUESTED', '2026-10-01T00:00:00.000Z', { reason: 'manual' }),
      step('KEY_CREATED', '2026-10-01T00:00:01.000Z', { newKey: KEY_B }),
      step('FAILED', '2026-10-01T00:00:09.000Z', {
        error: { name: 'OriginNotFoundError', message: 'x', retryable: false },
        stage: 'edge',
        rolledBack: false,
        newKeyMayBeAtEdge: true,
      }),
    ] as never);
    expect(facts).toEqual({
      rotationId: 'r1',
      target: 'shop',
      outcome: 'FAILED',
      requestedAt: '2026-10-01T00:00:00.000Z',
      endedAt: '2026-10-01T00:00:09.000Z',
      reason: 'manual',
      newKey: KEY_B,
      keyCreatedAt: '2026-10-01T00:00:01.000Z',
      error: { name: 'OriginNotFoundError', message: 'x', retryable: false },
      stage: 'edge',
    });
    expect(
      rotationFacts([step('KEY_CREATED', '2026-10-01T00:00:01.000Z')] as never),
    ).toBeUndefined();
  });
});

describe('buildReport', () => {
  const rotations = [
    completed('r1', '2026-09-10T00:00:00.000Z', '2026-09-10T00:00:10.000Z', KEY_B),
    failed('r2', '2026-10-05T00:00:00.000Z', 'OriginNotFoundError', 'ORIGIN_ID'),
    failed('r3', '2026-10-06T00:00:00.000Z', 'OriginNotFoundError', 'ORIGIN_ID'),
    {
      ...failed('r4', '2026-10-07T00:00:00.000Z', 'x'),
      outcome: 'REFUSED' as const,
      error: undefined,
    },
    completed('r5', '2026-10-20T00:00:00.000Z', '2026-10-20T00:00:30.000Z', KEY_C),
  ];

  it('sums up each target over the window and per month, against the policy', () => {
    const report = buildReport(
      input({
        rotations,
        keysAtStart: new Map([['shop', { key: KEY_A, createdAt: '2026-08-25T00:00:00.000Z' }]]),
      }),
    );
    const [shop] = report.targets;
    expect(shop).toMatchObject({
      target: 'shop',
      completed: 2,
      failed: 2,
      refused: 1,
      meanDurationMs: 20_000,
      p95DurationMs: 30_000,
      // keyb: created 09-10, retired 10-20: forty days, over the 31-day policy.
      maxKeyAgeMs: 40 * 86_400_000 + 30_000,
      maxKeyAgeLowerBound: false,
      compliant: false,
      failureReasons: [{ reason: 'OriginNotFoundError[ORIGIN_ID]', count: 2 }],
    });
    expect(
      shop?.months.map((m) => [
        m.month,
        m.completed,
        m.failed,
        m.refused,
        m.maxKeyAgeMs / 86_400_000,
        m.compliant,
      ]),
    ).toEqual([
      // keya (from 08-25) until 09-10, then keyb (from 09-10) until the month's end: 21 days.
      ['2026-09', 1, 0, 0, 21, true],
      ['2026-10', 1, 2, 1, 40 + 30 / 86_400, false],
    ]);
    expect(shop?.failures.map((f) => f.rotationId)).toEqual(['r2', 'r3']);
  });

  it('reports a target without rotations, and the keys over the policy now', () => {
    const report = buildReport(
      input({
        targets: ['idle'],
        currentKeys: [
          {
            target: 'idle',
            rotationId: 'r0',
            key: KEY_A,
            keyCreatedAt: '2026-09-15T00:00:00.000Z',
            completedAt: '2026-09-15T00:01:00.000Z',
          },
        ],
      }),
    );
    expect(report.targets[0]).toMatchObject({
      completed: 0,
      meanDurationMs: null,
      maxKeyAgeLowerBound: true,
    });
    expect(report.overPolicyNow).toEqual([
      {
        target: 'idle',
        key: KEY_A,
        keyCreatedAt: '2026-09-15T00:00:00.000Z',
        ageMs: 47 * 86_400_000,
      },
    ]);
  });
});

describe('report formats', () => {
  const report = buildReport(
    input({
      rotations: [
        completed('r1', '2026-09-10T00:00:00.000Z', '2026-09-10T00:00:10.500Z'),
        failed('r2', '2026-10-05T00:00:00.000Z', 'EdgeDriftError', 'target.distributionId'),
      ],
      keysAtStart: new Map([['shop', { key: KEY_A, createdAt: '2026-08-31T00:00:00.000Z' }]]),
    }),
  );

  it('CSV: a row per target and month, then the window', () => {
    expect(renderCsv(report)).toBe(
      [
        'target,month,completed,failed,refused,mean_duration_s,p95_duration_s,max_key_age_days,max_key_age_lower_bound,policy_days,compliant,failure_reasons',
        // keyb, created 09-10, is 21 days old at October's start and 52 at the window's end.
        'shop,2026-09,1,0,0,10.500,10.500,21.00,false,31,yes,',
        'shop,2026-10,0,1,0,,,52.00,false,31,no,EdgeDriftError[target.distributionId]: 1',
        'shop,all,1,1,0,10.500,10.500,52.00,false,31,no,EdgeDriftError[target.distributionId]: 1',
        '',
      ].join('\n'),
    );
  });

  it('Markdown: the summary, months, failures and keys as tables', () => {
    const md = renderMarkdown(report);
    expect(md).toContain('| shop | 52.00 | 31 days | no | 1 | 1 | 0 | 10.500 | 10.500 |');
    expect(md).toContain(
      '| shop | r2 | 2026-10-05T00:00:00.000Z | edge | EdgeDriftError | target.distributionId | it broke |',
    );
    expect(md).toContain('Overall: NOT every target within policy.');
  });

  it('HTML: one self-contained page with an inline SVG timeline, text escaped', () => {
    const html = renderHtml(buildReport(input({ targets: ['<b>&"x"</b>'], rotations: [] })));
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<svg xmlns="http://www.w3.org/2000/svg"');
    expect(html).toContain('&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;');
    expect(html).not.toContain('<b>&');
    expect(html).not.toMatch(/<script|<link|<img|src=|href=|url\(|@import/i);
    expect(escapeHtml(`<'&">`)).toBe('&lt;&#39;&amp;&quot;&gt;');
  });

  it('HTML: a bar per key, coloured by the policy, and a mark per rotation', () => {
    const svg = renderHtml(report);
    expect(svg.match(/<rect /g)).toHaveLength(2);
    expect(svg).toContain('fill="#2e7d32"'); // keya, within the policy
    expect(svg).toContain('fill="#c62828"'); // keyb, 52 days by the window's end
    expect(svg).toContain('<title>r1 COMPLETED at 2026-09-10T00:00:10.500Z</title>');
    expect(svg).toContain('<title>r2 FAILED at 2026-10-05T00:00:00.000Z: EdgeDriftError</title>');
  });
});
