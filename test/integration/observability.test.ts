import { rotationIds } from '../../harness/inspect';
import { currentKeyValues, findLeaks, useMoto } from '../support/local';

jest.setTimeout(60_000);

const fixture = useMoto();

type Line = Record<string, unknown>;

/** The JSON objects among the captured console lines (log lines and EMF metric records). */
function jsonLines(lines: readonly string[]): Line[] {
  return lines.flatMap((line) => {
    try {
      const parsed: unknown = JSON.parse(line);
      return typeof parsed === 'object' && parsed !== null ? [parsed as Line] : [];
    } catch {
      return [];
    }
  });
}

interface Emf {
  _aws: {
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [field: string]: unknown;
}

const isEmf = (line: Line): line is Line & Emf => '_aws' in line;

describe('what a rotation tells operators', () => {
  it('emits EMF metrics per function: started, edge updated, completed, durations', async () => {
    const env = await fixture.world();
    await env.runner.fireSchedule();
    await env.runner.drain();

    const records = jsonLines(env.logs.lines).filter(isEmf);
    const metric = (service: string, name: string) =>
      records.find(
        (r) =>
          r.service === service &&
          r._aws.CloudWatchMetrics.some((m) => m.Metrics.some((x) => x.Name === name)),
      );
    for (const record of records) {
      expect(record._aws.CloudWatchMetrics[0]).toMatchObject({
        Namespace: 'keyrot',
        Dimensions: [expect.arrayContaining(['service', 'target'])],
      });
      expect(record.target).toBe('kloudpepper-api-key');
    }
    expect(metric('key-issuer', 'RotationsStarted')).toMatchObject({ RotationsStarted: 1 });
    expect(metric('edge-updater', 'EdgeUpdates')).toMatchObject({ EdgeUpdates: 1 });
    const completed = metric('key-reaper', 'RotationsCompleted');
    expect(completed).toMatchObject({ RotationsCompleted: 1 });
    expect(completed!.RotationDuration).toEqual(expect.any(Number));
    expect(completed!.RotationDuration as number).toBeGreaterThanOrEqual(
      completed!.IssueDuration as number,
    );
    expect(metric('key-issuer', 'RotationsFailed')).toBeUndefined();
  });

  it('logs JSON lines that each carry rotation, target, step, account and event id, and no key value', async () => {
    const env = await fixture.world();
    const values = [env.world.initialKeyValue.reveal()];
    await env.runner.fireSchedule();
    await env.runner.drain();
    values.push(...(await currentKeyValues(env)));
    const [rotationId] = await rotationIds(env.world);

    const logLines = jsonLines(env.logs.lines).filter((l) => !isEmf(l) && 'level' in l);
    expect(logLines.length).toBeGreaterThanOrEqual(3);
    for (const line of logLines) {
      expect(line).toMatchObject({
        rotationId,
        target: 'kloudpepper-api-key',
        step: expect.any(String),
        account: expect.stringMatching(/^\d{12}$/),
        eventId: expect.any(String),
      });
    }
    const accounts = new Set(logLines.map((l) => l.account));
    expect(accounts).toEqual(
      new Set([env.world.api.session.accountId, env.world.edge.session.accountId]),
    );
    expect(await findLeaks(env, values)).toEqual([]);
  });
});
