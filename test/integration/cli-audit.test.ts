import { detailsOf, errorOf, keysOf, newKeyOf, reasonOf, type StepRecord } from '@keyrot/shared';
import { ledgerOf, rotationIds } from '../../harness/inspect';
import {
  operatorEnv,
  runCli,
  runCliWhileDraining,
  scratchDir,
  worldTarget,
  writeTargetsFile,
} from '../support/cli';
import { useMoto } from '../support/local';

jest.setTimeout(120_000);

const fixture = useMoto();
const TARGET = 'kloudpepper-api-key';
const DAY = 86_400_000;

const csvCell = (value: string) =>
  /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;

/** The months from `since` to `until`, `yyyy-mm`. */
function months(since: string, until: string): string[] {
  const out: string[] = [];
  const d = new Date(since);
  for (
    let m = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
    m.toISOString() < until;
    m = new Date(Date.UTC(m.getUTCFullYear(), m.getUTCMonth() + 1, 1))
  ) {
    out.push(m.toISOString().slice(0, 7));
  }
  return out;
}

describe('an audit of three rotations, one of them failed', () => {
  it('reports them and exports every step exactly as the ledger holds them', async () => {
    const env = await fixture.world();
    const dir = scratchDir();
    const good = writeTargetsFile(dir, 'targets.json', [worldTarget(env.world)]);
    const broken = writeTargetsFile(dir, 'broken.json', [
      worldTarget(env.world, { originId: 'no-such-origin' }),
    ]);
    const processEnv = operatorEnv(env.world);
    const rotate = (targets: string) =>
      runCliWhileDraining(
        env,
        [
          '--endpoint',
          env.moto.endpoint,
          '--targets',
          targets,
          'rotate',
          '--target',
          TARGET,
          '--wait',
          '--poll',
          '0.1',
        ],
        processEnv,
      );

    // Ten days of history before the first rotation: the initial key predates keyrot.
    const since = new Date(Date.now() - 10 * DAY).toISOString();
    expect((await rotate(good)).code).toBe(0);
    expect((await rotate(broken)).code).toBe(4);
    expect((await rotate(good)).code).toBe(0);
    const until = new Date(Date.now() + 60_000).toISOString();

    const ids = await rotationIds(env.world);
    expect(ids).toHaveLength(3);
    const timelines = await Promise.all(ids.map((id) => ledgerOf(env.world).timeline(id)));
    const step = (t: StepRecord[], name: StepRecord['step']) => t.find((s) => s.step === name)!;
    const [first, failed, third] = timelines as [StepRecord[], StepRecord[], StepRecord[]];
    expect(timelines.map((t) => t[t.length - 1]!.step)).toEqual([
      'COMPLETED',
      'FAILED',
      'COMPLETED',
    ]);
    const cli = (...args: string[]) =>
      runCli(['--endpoint', env.moto.endpoint, ...args], processEnv);

    // The export: every step of the three rotations, in order, one ledger item per line.
    const jsonl = await cli('ledger', 'export', '--since', since, '--until', until);
    expect(jsonl.code).toBe(0);
    const lines = jsonl.stdout.trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l) as StepRecord)).toEqual(timelines.flat());
    const fieldOrder = [
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
    ];
    // The fields every step may have, in that order, then the step's own fields by name.
    for (const line of lines) {
      const keys = Object.keys(JSON.parse(line) as object);
      const own = keys.filter((k) => !fieldOrder.includes(k));
      expect(keys).toEqual([...fieldOrder.filter((k) => keys.includes(k)), ...own.sort()]);
    }
    // Each item says who (function, account, request id), when, what and how it ended.
    for (const s of timelines.flat()) {
      expect(s.actor.function).toMatch(/^keyrot-(key-issuer|edge-updater|key-reaper)-local-/);
      expect(s.actor.account).toMatch(/^(111111111111|222222222222)$/);
      expect(s.actor.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(new Date(s.at).toISOString()).toBe(s.at);
    }
    expect(step(failed, 'FAILED')).toMatchObject({
      error: { name: 'OriginNotFoundError', field: 'ORIGIN_ID', retryable: false },
      stage: 'edge',
      rolledBack: true,
      newKeyMayBeAtEdge: false,
      reportedBy: '222222222222',
    });

    const csv = await cli(
      'ledger',
      'export',
      '--since',
      since,
      '--until',
      until,
      '--format',
      'csv',
    );
    expect(csv.code).toBe(0);
    const header =
      'rotation_id,target,step,at,actor_function,actor_account,actor_request_id,reason,new_key_id,new_key_fingerprint,key_ids,key_fingerprints,error_name,error_field,error_message,error_retryable,facts';
    const row = (s: StepRecord) =>
      [
        s.rotationId,
        s.target,
        s.step,
        s.at,
        s.actor.function,
        s.actor.account,
        s.actor.requestId ?? '',
        reasonOf(s) ?? '',
        newKeyOf(s)?.id ?? '',
        newKeyOf(s)?.fingerprint ?? '',
        (keysOf(s) ?? []).map((k) => k.id).join(' '),
        (keysOf(s) ?? []).map((k) => k.fingerprint).join(' '),
        errorOf(s)?.name ?? '',
        errorOf(s)?.field ?? '',
        errorOf(s)?.message ?? '',
        errorOf(s) ? String(errorOf(s)?.retryable) : '',
        Object.keys(detailsOf(s)).length > 0
          ? JSON.stringify(
              Object.fromEntries(Object.entries(detailsOf(s)).sort(([a], [b]) => (a < b ? -1 : 1))),
            )
          : '',
      ]
        .map(csvCell)
        .join(',');
    expect(csv.stdout).toBe([header, ...timelines.flat().map(row)].map((l) => `${l}\n`).join(''));

    // The report: two completed, one failed with its reason; durations; the largest key age.
    const report = await cli(
      'report',
      '--since',
      since,
      '--until',
      until,
      '--format',
      'csv',
      '--policy-days',
      '5',
    );
    expect(report.code).toBe(0);
    const ms = (iso: string) => Date.parse(iso);
    const duration = (t: StepRecord[]) => ms(step(t, 'COMPLETED').at) - ms(step(t, 'REQUESTED').at);
    const [d1, d3] = [duration(first), duration(third)];
    // The key lives: the initial key (created before keyrot: counted from `since`), then the
    // first rotation's key until the third completed, then the third's until the window ends.
    const lives = [
      { from: since, to: step(first, 'COMPLETED').at, created: null },
      {
        from: step(first, 'COMPLETED').at,
        to: step(third, 'COMPLETED').at,
        created: step(first, 'KEY_CREATED').at,
      },
      { from: step(third, 'COMPLETED').at, to: until, created: step(third, 'KEY_CREATED').at },
    ];
    const maxAge = (from: string, to: string) => {
      let best = { age: 0, lowerBound: false };
      for (const life of lives) {
        if (life.to < from || life.from >= to) continue;
        const end = life.to < to ? life.to : to;
        const age = ms(end) - ms(life.created ?? since);
        if (age > best.age) best = { age, lowerBound: life.created === null };
      }
      return best;
    };
    const expectedRow = (month: string, from: string, to: string) => {
      const ended = (t: StepRecord[]) => t[t.length - 1]!.at.startsWith(month) || month === 'all';
      const done = [first, third].filter(ended);
      const durations = done.map(duration).sort((a, b) => a - b);
      const age = maxAge(from, to);
      return [
        TARGET,
        month,
        String(done.length),
        String([failed].filter(ended).length),
        '0',
        durations.length
          ? (durations.reduce((a, b) => a + b, 0) / durations.length / 1000).toFixed(3)
          : '',
        durations.length
          ? (durations[Math.ceil(0.95 * durations.length) - 1]! / 1000).toFixed(3)
          : '',
        (Math.ceil(age.age / (DAY / 100)) / 100).toFixed(2),
        String(age.lowerBound),
        '5',
        age.age <= 5 * DAY ? 'yes' : 'no',
        [failed].filter(ended).length ? 'OriginNotFoundError[ORIGIN_ID]: 1' : '',
      ].join(',');
    };
    const monthRows = months(since, until).map((month) => {
      const [y, m] = month.split('-').map(Number) as [number, number];
      const start = new Date(Date.UTC(y, m - 1, 1)).toISOString();
      const next = new Date(Date.UTC(y, m, 1)).toISOString();
      return expectedRow(month, start > since ? start : since, next < until ? next : until);
    });
    expect(report.stdout).toBe(
      [
        'target,month,completed,failed,refused,mean_duration_s,p95_duration_s,max_key_age_days,max_key_age_lower_bound,policy_days,compliant,failure_reasons',
        ...monthRows,
        expectedRow('all', since, until),
      ]
        .map((l) => `${l}\n`)
        .join(''),
    );
    // The initial key was in use ten days (and seconds): over a five-day policy.
    expect(report.stdout.trimEnd().split('\n').pop()).toContain(',10.01,true,5,no,');
    expect(d1).toBeGreaterThan(0);
    expect(d3).toBeGreaterThan(0);

    // Markdown and HTML carry the same facts; the HTML page needs nothing from outside.
    const md = await cli('report', '--since', since, '--until', until, '--policy-days', '5');
    expect(md.stdout).toContain(`| ${TARGET} | ≥10.01 | 5 days | no | 2 | 1 | 0 |`);
    expect(md.stdout).toContain(
      `| ${TARGET} | ${ids[1]} | ${step(failed, 'FAILED').at} | edge | OriginNotFoundError | ORIGIN_ID |`,
    );
    const html = await cli('report', '--since', since, '--until', until, '--format', 'html');
    expect(html.code).toBe(0);
    expect(html.stdout).toMatch(/^<!doctype html>/);
    expect(html.stdout).toContain('<svg');
    for (const id of ids) expect(html.stdout).toContain(`<title>${id} `);
    expect(html.stdout).not.toMatch(/<script|<link|src=|href=|url\(|@import/i);
  });
});
