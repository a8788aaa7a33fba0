import { rotationState } from '@keyrot/shared';
import {
  UpdateDistributionCommand,
  CloudFrontClient,
  GetDistributionConfigCommand,
} from '@aws-sdk/client-cloudfront';
import { CreateApiKeyCommand, APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { clientConfig } from '../../harness/accounts';
import { ledgerOf, liveKeysOnPlan, readEdge, rotationIds } from '../../harness/inspect';
import type { LocalEnvironment } from '../../harness/local-env';
import {
  operatorEnv,
  RecordingProxy,
  runCli,
  runCliWhileDraining,
  scratchDir,
  worldTarget,
  writeCredentialsFile,
  writeTargetsFile,
} from '../support/cli';
import { currentKeyValues, useMoto } from '../support/local';

jest.setTimeout(90_000);

const fixture = useMoto();
const TARGET = 'kloudpepper-api-key';

/** Fires the stored schedule and delivers everything: one completed rotation. */
async function scheduledRotation(env: LocalEnvironment): Promise<string> {
  await env.runner.fireSchedule();
  await env.runner.drain();
  const ids = await rotationIds(env.world);
  return ids[ids.length - 1]!;
}

function cli(env: LocalEnvironment, endpoint = env.moto.endpoint) {
  const processEnv = operatorEnv(env.world);
  return {
    processEnv,
    run: (...args: string[]) => runCli(['--endpoint', endpoint, ...args], processEnv),
    runDraining: (...args: string[]) =>
      runCliWhileDraining(env, ['--endpoint', endpoint, ...args], processEnv),
  };
}

describe('keyrot rotate', () => {
  it('--wait follows a manual rotation through the ledger to its completion', async () => {
    const env = await fixture.world();
    const dir = scratchDir();
    const targets = writeTargetsFile(dir, 'targets.json', [worldTarget(env.world)]);

    const result = await cli(env).runDraining(
      '--targets',
      targets,
      'rotate',
      '--target',
      TARGET,
      '--wait',
      '--poll',
      '0.1',
    );

    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const [rotationId] = await rotationIds(env.world);
    const steps = await ledgerOf(env.world).timeline(rotationId!);
    expect(steps.map((s) => s.step)).toEqual([
      'REQUESTED',
      'KEYS_LISTED',
      'KEY_CREATED',
      'KEY_ASSOCIATED',
      'KEY_SENT',
      'EDGE_UPDATED',
      'KEYS_RETIRED',
      'COMPLETED',
    ]);
    const requested = rotationState(steps).requested!;
    expect(requested).toMatchObject({ reason: 'manual', targetSpec: worldTarget(env.world) });
    expect(requested.requestedBy).toMatch(/^arn:aws:sts::111111111111:assumed-role\//);
    // Every step appeared in the progress display, then the completion.
    for (const step of steps) expect(result.stdout).toContain(step.step);
    expect(result.stdout).toContain(`rotation ${rotationId} completed in `);
    const newKey = steps.find((s) => s.step === 'KEY_CREATED')!.newKey!;
    expect((await readEdge(env.world)).apiKeyFingerprint).toBe(newKey.fingerprint);
  });

  it('--emergency records the reason and retires the old key with the emergency grace', async () => {
    const env = await fixture.world({ keyrot: { graceSeconds: 600, emergencyGraceSeconds: 0.2 } });
    const dir = scratchDir();
    const targets = writeTargetsFile(dir, 'targets.json', [worldTarget(env.world)]);

    const result = await cli(env).runDraining(
      '--targets',
      targets,
      '-o',
      'json',
      'rotate',
      '--target',
      TARGET,
      '--emergency',
      '--wait',
      '--poll',
      '0.1',
    );

    expect(result.code).toBe(0);
    const outcome = JSON.parse(result.stdout) as {
      rotationId: string;
      reason: string;
      outcome: string;
    };
    expect(outcome).toMatchObject({ reason: 'emergency', outcome: 'COMPLETED' });
    const steps = await ledgerOf(env.world).timeline(outcome.rotationId);
    expect(rotationState(steps).requested?.reason).toBe('emergency');
    expect(rotationState(steps).step('KEYS_RETIRED')?.graceSeconds).toBe(0.2);
  });

  it('--wait exits 4 with the reason when the rotation fails, and the old key stays', async () => {
    const env = await fixture.world();
    const dir = scratchDir();
    const broken = writeTargetsFile(dir, 'broken.json', [
      worldTarget(env.world, { originId: 'no-such-origin' }),
    ]);

    const result = await cli(env).runDraining(
      '--targets',
      broken,
      'rotate',
      '--target',
      TARGET,
      '--wait',
      '--poll',
      '0.1',
    );

    expect(result.code).toBe(4);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^keyrot: rotation rot_\S+ failed: OriginNotFoundError: ORIGIN_ID no-such-origin not found: .*; new key rolled back$/,
      ),
    ]);
    expect((await readEdge(env.world)).apiKeyFingerprint).toBe(
      env.world.initialKeyValue.fingerprint,
    );
  });

  it('--dry-run prints the calls it would make and changes nothing', async () => {
    const env = await fixture.world();
    const dir = scratchDir();
    const targets = writeTargetsFile(dir, 'targets.json', [worldTarget(env.world)]);
    const keysBefore = await liveKeysOnPlan(env.world);

    const result = await cli(env).run(
      '--targets',
      targets,
      '-o',
      'json',
      'rotate',
      '--target',
      TARGET,
      '--dry-run',
    );

    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout) as {
      dryRun: boolean;
      request: { target: { name: string }; reason: string };
      superseded: { id: string }[];
      calls: { by: string; call: string }[];
    };
    expect(plan).toMatchObject({
      dryRun: true,
      request: { target: { name: TARGET }, reason: 'manual' },
    });
    expect(plan.superseded.map((k) => k.id)).toEqual([env.world.api.initialKeyId]);
    expect(plan.calls.map((c) => c.call)).toEqual(
      expect.arrayContaining([
        'events:PutEvents',
        'apigateway:CreateApiKey',
        'cloudfront:UpdateDistribution',
        'apigateway:DeleteApiKey',
      ]),
    );
    // Nothing was put on a bus, recorded or created.
    expect(await env.runner.drain()).toEqual([]);
    expect(await rotationIds(env.world)).toEqual([]);
    expect(await liveKeysOnPlan(env.world)).toEqual(keysBefore);
  });

  it('learns the target from the ledger when no targets file names it', async () => {
    const env = await fixture.world();
    await scheduledRotation(env);

    const result = await cli(env).runDraining(
      'rotate',
      '--target',
      TARGET,
      '--wait',
      '--poll',
      '0.1',
    );

    expect(result.code).toBe(0);
    expect(await rotationIds(env.world)).toHaveLength(2);
  });
});

describe('keyrot status and ledger', () => {
  it('shows each target with its current key, age, last rotation and nothing in flight', async () => {
    const env = await fixture.world();
    const rotationId = await scheduledRotation(env);
    const steps = await ledgerOf(env.world).timeline(rotationId);
    const created = steps.find((s) => s.step === 'KEY_CREATED')!;

    const result = await cli(env).run('-o', 'json', 'status');

    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(rows).toEqual([
      expect.objectContaining({
        target: TARGET,
        source: 'ledger',
        currentKey: created.newKey,
        keyCreatedAt: created.at,
        overPolicy: false,
        lastRotation: { rotationId, outcome: 'COMPLETED', at: steps[steps.length - 1]!.at },
        inFlight: null,
      }),
    ]);
  });

  it("lists a target's rotations and shows one rotation's timeline", async () => {
    const env = await fixture.world();
    const first = await scheduledRotation(env);
    const second = await scheduledRotation(env);

    const list = await cli(env).run('-o', 'csv', 'ledger', 'list');
    const show = await cli(env).run('-o', 'json', 'ledger', 'show', second);

    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).toBe('rotation,started,reason,outcome,duration (s),new key,fingerprint,error');
    expect(
      lines.slice(1).map((l) => l.split(',').slice(0, 1).concat(l.split(',').slice(2, 4))),
    ).toEqual([
      [second, 'scheduled', 'COMPLETED'],
      [first, 'scheduled', 'COMPLETED'],
    ]);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toEqual(await ledgerOf(env.world).timeline(second));
  });
});

describe('keyrot verify', () => {
  /** Both accounts as profiles of a credentials file: no keys in the environment. */
  async function verifyAll(env: LocalEnvironment) {
    const dir = scratchDir();
    const credentials = writeCredentialsFile(dir, env.world);
    const processEnv: NodeJS.ProcessEnv = {
      ...operatorEnv(env.world),
      AWS_SHARED_CREDENTIALS_FILE: credentials,
    };
    delete processEnv.AWS_ACCESS_KEY_ID;
    delete processEnv.AWS_SECRET_ACCESS_KEY;
    delete processEnv.AWS_SESSION_TOKEN;
    const result = await runCli(
      [
        '--endpoint',
        env.moto.endpoint,
        '--profile',
        'keyrot-api',
        '--edge-profile',
        'keyrot-edge',
        '-o',
        'json',
        'verify',
        '--target',
        TARGET,
      ],
      processEnv,
    );
    const findings = JSON.parse(result.stdout) as {
      check: string;
      status: string;
      detail: string;
    }[];
    return {
      result,
      findings,
      status: Object.fromEntries(findings.map((f) => [f.check, f.status])),
    };
  }

  it('finds no drift after a rotation, reading CloudFront with the edge profile', async () => {
    const env = await fixture.world();
    await scheduledRotation(env);

    const { result, status } = await verifyAll(env);

    expect(result.code).toBe(0);
    expect(status).toEqual({
      'edge-header': 'ok',
      'header-key-live': 'ok',
      'header-key-managed': 'ok',
      'ledger-current-key': 'ok',
      'stray-keys': 'ok',
      lock: 'ok',
    });
  });

  it('exits 3 when the header was changed by hand, a keyrot key is left over and a lock is stale', async () => {
    const env = await fixture.world();
    await scheduledRotation(env);
    // Someone sets another value on the origin by hand.
    const cloudFront = new CloudFrontClient(clientConfig(env.world.edge.session));
    const current = await cloudFront.send(
      new GetDistributionConfigCommand({ Id: env.world.edge.distributionId }),
    );
    const config = current.DistributionConfig!;
    const origin = config.Origins!.Items!.find((o) => o.Id === env.world.edge.originId)!;
    origin.CustomHeaders!.Items!.find((h) => h.HeaderName === 'x-api-key')!.HeaderValue =
      'typed-by-hand-0123456789';
    await cloudFront.send(
      new UpdateDistributionCommand({
        Id: env.world.edge.distributionId,
        IfMatch: current.ETag!,
        DistributionConfig: config,
      }),
    );
    // A key keyrot made for the target and never cleaned up.
    const apigw = new APIGatewayClient(clientConfig(env.world.api.session));
    const stray = await apigw.send(
      new CreateApiKeyCommand({
        name: TARGET,
        enabled: true,
        tags: {
          'keyrot:managed': 'true',
          'keyrot:target': TARGET,
          'keyrot:rotation': 'rot_20200101T000000Z_crashed01',
        },
      }),
    );
    // A lock that expired long ago and was never released.
    await new DynamoDBClient(clientConfig(env.world.api.session)).send(
      new PutItemCommand({
        TableName: env.world.api.ledgerTableName,
        Item: {
          PK: { S: `TARGET#${TARGET}` },
          SK: { S: 'LOCK' },
          target: { S: TARGET },
          rotationId: { S: 'rot_20200101T000000Z_crashed01' },
          acquiredAt: { S: '2020-01-01T00:00:00.000Z' },
          expiresAt: { S: '2020-01-01T06:00:00.000Z' },
        },
      }),
    );

    const { result, findings, status } = await verifyAll(env);

    expect(result.code).toBe(3);
    expect(status).toEqual({
      'edge-header': 'ok',
      'header-key-live': 'drift',
      'header-key-managed': 'n/a',
      'ledger-current-key': 'drift',
      'stray-keys': 'drift',
      lock: 'drift',
    });
    expect(findings.find((f) => f.check === 'stray-keys')?.detail).toBe(
      `keyrot-owned keys not in use: ${stray.id!} (rotation rot_20200101T000000Z_crashed01)`,
    );
    expect(findings.find((f) => f.check === 'lock')?.detail).toBe(
      'stale: held by rot_20200101T000000Z_crashed01, expired at 2020-01-01T06:00:00.000Z',
    );
    expect(result.stderr).toBe(
      `keyrot: drift found: ${TARGET} header-key-live, ${TARGET} ledger-current-key, ${TARGET} stray-keys, ${TARGET} lock\n`,
    );
    // Nothing printed or stored names the value typed by hand.
    expect(result.stdout).not.toContain('typed-by-hand');
  });
});

describe('bad input', () => {
  it('each case: one clear line on stderr, nothing on stdout, a non-zero exit', async () => {
    const env = await fixture.world();
    await scheduledRotation(env);
    const dir = scratchDir();
    const invalid = writeTargetsFile(dir, 'targets.json', [
      worldTarget(env.world, { usagePlanId: '' }),
    ]);
    const down = 'http://127.0.0.1:9';
    const cases: { args: string[]; endpoint?: string; code: number; line: string | RegExp }[] = [
      {
        args: ['rotate', '--target', 'no-such-target'],
        code: 2,
        line: 'keyrot: --target: unknown target "no-such-target": not in ledger keyrot-ledger (known: kloudpepper-api-key)',
      },
      {
        args: ['report', '--since', 'last tuesday'],
        code: 2,
        line: 'keyrot: --since: "last tuesday" is not a date: use YYYY-MM-DD or an ISO-8601 time such as 2026-11-01T00:00:00Z',
      },
      {
        args: ['ledger', 'export', '--since', '2026-02-30'],
        code: 2,
        line: 'keyrot: --since: "2026-02-30" is not a day of the calendar',
      },
      {
        args: ['ledger', 'show', 'rot_20200101T000000Z_nothing0'],
        code: 2,
        line: 'keyrot: rotationId: no rotation "rot_20200101T000000Z_nothing0" in ledger keyrot-ledger',
      },
      {
        args: ['-o', 'xml', 'status'],
        code: 2,
        line: /^keyrot: option '-o, --output <format>' argument 'xml' is invalid\./,
      },
      {
        args: ['--targets', invalid, 'rotate', '--target', TARGET, '--dry-run'],
        code: 2,
        line: `keyrot: --targets: ${invalid}: [0].usagePlanId: must not be empty (usage plan id)`,
      },
      {
        args: ['status'],
        endpoint: down,
        code: 5,
        line: `keyrot: cannot reach ${down}: ECONNREFUSED`,
      },
      {
        args: ['rotate', '--target', TARGET, '--wait'],
        endpoint: down,
        code: 5,
        line: `keyrot: cannot reach ${down}: ECONNREFUSED`,
      },
    ];

    const results = await Promise.all(cases.map((c) => cli(env, c.endpoint).run(...c.args)));

    results.forEach((result, i) => {
      const expected = cases[i]!;
      expect({ args: expected.args, code: result.code, stdout: result.stdout }).toEqual({
        args: expected.args,
        code: expected.code,
        stdout: '',
      });
      const lines = result.stderr.split('\n');
      expect(lines).toHaveLength(2);
      if (typeof expected.line === 'string') expect(lines[0]).toBe(expected.line);
      else expect(lines[0]).toMatch(expected.line);
    });
  });
});

describe('ledger reads', () => {
  it('are DynamoDB Queries only: no Scan, no GetItem, from every command', async () => {
    const env = await fixture.world();
    const proxy = new RecordingProxy(env.moto.endpoint);
    const endpoint = await proxy.start();
    try {
      const first = await scheduledRotation(env);
      await env.runner.putOnApiBus('KeyRotationRequested', {
        ...env.world.scheduleInput,
        ORIGIN_ID: 'nope',
      });
      await env.runner.drain();
      const dir = scratchDir();
      const credentials = writeCredentialsFile(dir, env.world);
      const outputs: string[] = [];
      const run = async (...args: string[]) => {
        const result = await runCli(
          ['--endpoint', endpoint, '--edge-profile', 'keyrot-edge', ...args],
          {
            ...operatorEnv(env.world),
            AWS_SHARED_CREDENTIALS_FILE: credentials,
          },
        );
        outputs.push(result.stdout, result.stderr);
        return result;
      };
      const since = new Date(Date.now() - 86_400_000).toISOString();

      const codes = [
        (await run('status')).code,
        (await run('status', '--older-than', '1')).code,
        (await run('verify')).code,
        (await run('ledger', 'list')).code,
        (await run('ledger', 'show', first)).code,
        (await run('ledger', 'export', '--since', since)).code,
        (await run('report', '--since', since, '--format', 'html')).code,
        (await run('rotate', '--target', TARGET, '--dry-run')).code,
      ];

      expect(codes).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
      const operations = proxy.dynamoDbOperations();
      expect(operations.length).toBeGreaterThan(10);
      expect(new Set(operations)).toEqual(new Set(['Query']));
      // I4: what the CLI printed names keys by id and fingerprint, never by value.
      const values = [env.world.initialKeyValue.reveal(), ...(await currentKeyValues(env))];
      expect(values.filter((value) => outputs.join('\n').includes(value))).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });
});
