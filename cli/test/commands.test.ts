import { AwsCallError, storedStep, type StepOf, type StepRecord } from '@keyrot/shared';
import {
  follow,
  progressLine,
  rotationPlan,
  type RotationRequestDetail,
} from '../src/commands/rotate';
import { exportLedger, listRotations } from '../src/commands/ledger';
import { report } from '../src/commands/report';
import {
  AwsUnavailableError,
  EXIT,
  InternalError,
  RotationNotCompletedError,
  toCliError,
  UnknownTargetError,
  UsageError,
  WaitTimeoutError,
} from '../src/errors';
import { run } from '../src/program';
import { actor, API_ACCOUNT, EDGE_ACCOUNT, TARGET } from '../../test/support/fixtures';
import { FakeLedgerQueries, fakeContext } from './fakes';

const ROTATION = 'rot_20261125T090000Z_cli00001';
const NEW_KEY = { id: 'newkey01', fingerprint: '0123456789ab' };

/** A stored step (a `facts` map in `extra` reads as the step's fields, as old items do). */
function step(
  name: StepRecord['step'],
  at: string,
  extra: Record<string, unknown> = {},
): StepRecord {
  return storedStep({
    rotationId: ROTATION,
    target: TARGET.name,
    step: name,
    at,
    actor: actor(API_ACCOUNT, 'keyrot-key-issuer'),
    ...extra,
  });
}

describe('rotate --wait', () => {
  /** A ledger whose rotation advances one step per read, as the functions would write it. */
  function advancingLedger(script: StepRecord[]) {
    const ledger = new FakeLedgerQueries();
    ledger.onTimeline = (rotationId) => {
      const next = script.shift();
      if (rotationId === ROTATION && next) ledger.steps.push(next);
    };
    return ledger;
  }

  it('prints each step as it appears and returns the steps once the rotation completed', async () => {
    const ledger = advancingLedger([
      step('REQUESTED', '2026-11-25T09:00:00.000Z', { reason: 'manual' }),
      step('KEY_CREATED', '2026-11-25T09:00:01.000Z', { newKey: NEW_KEY }),
      step('EDGE_UPDATED', '2026-11-25T09:03:00.000Z', {
        actor: actor(EDGE_ACCOUNT, 'keyrot-edge-updater'),
      }),
      step('COMPLETED', '2026-11-25T09:04:00.500Z', { newKey: NEW_KEY }),
    ]);
    const { ctx, written, clock } = fakeContext(ledger);

    const steps = await follow(ctx, ROTATION, 'event-1', 600, 2);

    expect(steps.map((s) => s.step)).toEqual([
      'REQUESTED',
      'KEY_CREATED',
      'EDGE_UPDATED',
      'COMPLETED',
    ]);
    expect(written.out.split('\n')).toEqual([
      '    +0.000 s  REQUESTED       key-issuer@111111111111       lock taken, rotation requested (manual)',
      '    +1.000 s  KEY_CREATED     key-issuer@111111111111       new key newkey01 (0123456789ab)',
      '  +180.000 s  EDGE_UPDATED    edge-updater@222222222222     the edge sends the new key everywhere (Deployed)',
      '  +240.500 s  COMPLETED       key-issuer@111111111111       rotation completed, lock released',
      `rotation ${ROTATION} completed in 240.500 s`,
      '',
    ]);
    // Three pauses of --poll between four reads, on the clock (no real waiting).
    expect(clock.sleeps).toEqual([2000, 2000, 2000]);
  });

  it('ends with the failure and its reason when the rotation fails', async () => {
    const ledger = advancingLedger([
      step('REQUESTED', '2026-11-25T09:00:00.000Z'),
      step('FAILED', '2026-11-25T09:00:05.000Z', {
        error: {
          name: 'OriginNotFoundError',
          message: 'ORIGIN_ID x not found',
          field: 'ORIGIN_ID',
          retryable: false,
        },
        facts: { stage: 'edge', rolledBack: true },
      }),
    ]);
    const { ctx } = fakeContext(ledger);

    const error = await follow(ctx, ROTATION, 'event-1', 600, 1).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RotationNotCompletedError);
    expect((error as RotationNotCompletedError).exitCode).toBe(EXIT.rotationFailed);
    expect((error as Error).message).toBe(
      `rotation ${ROTATION} failed: OriginNotFoundError: ORIGIN_ID x not found; new key rolled back`,
    );
  });

  it('ends with one clean sentence when the rotation was refused (target locked)', async () => {
    const ledger = advancingLedger([
      step('REFUSED', '2026-11-25T09:00:00.000Z', {
        facts: { lockedBy: 'rot_other_0001', lockExpiresAt: '2026-11-25T15:00:00.000Z' },
      }),
    ]);
    const { ctx } = fakeContext(ledger);

    await expect(follow(ctx, ROTATION, 'event-1', 600, 1)).rejects.toThrow(
      new RotationNotCompletedError(
        ROTATION,
        'was refused',
        'target locked by rot_other_0001 until 2026-11-25T15:00:00.000Z',
      ),
    );
  });

  it('ends when the request itself was rejected (recorded under the event id)', async () => {
    const ledger = new FakeLedgerQueries();
    ledger.steps.push({
      ...(step('REJECTED', '2026-11-25T09:00:00.000Z') as StepOf<'REJECTED'>),
      rotationId: 'evt_abc-123',
      target: '-',
      error: {
        name: 'UntrustedEventError',
        message: 'untrusted event: account is "3"',
        retryable: false,
      },
    });
    const { ctx } = fakeContext(ledger);

    await expect(follow(ctx, ROTATION, 'abc-123', 600, 1)).rejects.toThrow(
      `rotation ${ROTATION} was rejected: UntrustedEventError: untrusted event: account is "3"`,
    );
  });

  it('gives up after --timeout with the last step seen', async () => {
    const ledger = advancingLedger([step('REQUESTED', '2026-11-25T09:00:00.000Z')]);
    const { ctx } = fakeContext(ledger);

    const error = await follow(ctx, ROTATION, 'event-1', 10, 3).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as Error).message).toBe(
      `rotation ${ROTATION} still in progress after 10 s (last step REQUESTED); follow it with: keyrot ledger show ${ROTATION}`,
    );
  });

  it("shows the offset of a step from the rotation's first one", () => {
    expect(
      progressLine(
        step('KEY_SENT', '2026-11-25T09:00:02.250Z'),
        Date.parse('2026-11-25T09:00:00.000Z'),
      ),
    ).toBe(
      '    +2.250 s  KEY_SENT        key-issuer@111111111111       new key sealed for the edge, KeyCreated sent',
    );
  });
});

describe('rotate --dry-run', () => {
  const detail: RotationRequestDetail = {
    version: 1,
    rotationId: ROTATION,
    target: TARGET,
    reason: 'manual',
    requestedBy: 'arn:aws:iam::111111111111:user/ops',
  };
  const now = new Date('2026-11-25T09:00:00.000Z');

  it('lists every call of the rotation, in order, with the keys it would supersede', () => {
    const calls = rotationPlan(detail, 'keyrot', {
      superseded: [{ id: 'old1', fingerprint: 'aaaaaaaaaaaa' }],
      now,
    });
    expect(calls.map((c) => `${c.by}: ${c.call}`)).toEqual([
      'keyrot CLI: events:PutEvents',
      'key-issuer: dynamodb:TransactWriteItems',
      'key-issuer: apigateway:GetUsagePlanKeys',
      'key-issuer: apigateway:CreateApiKey',
      'key-issuer: apigateway:CreateUsagePlanKey',
      'key-issuer: HTTPS GET (if HEALTH_CHECK_URL is set)',
      'key-issuer: kms:Encrypt',
      'key-issuer: events:PutEvents',
      'edge-updater: kms:Decrypt',
      'edge-updater: cloudfront:GetDistributionConfig',
      'edge-updater: cloudfront:UpdateDistribution',
      'edge-updater: cloudfront:GetDistribution',
      'edge-updater: events:PutEvents',
      'key-reaper: (wait)',
      'key-reaper: apigateway:GetApiKeys',
      'key-reaper: apigateway:DeleteApiKey',
      'key-reaper: dynamodb:TransactWriteItems',
      'key-reaper: events:PutEvents',
    ]);
    expect(calls[0]?.detail).toBe(
      `KeyRotationRequested on bus keyrot: {"version":1,"rotationId":"${ROTATION}","reason":"manual","requestedBy":"arn:aws:iam::111111111111:user/ops","target":{"apiKeyName":"kloudpepper-api-key","distributionId":"E1MTSB8DGIOBI2","headerName":"x-api-key","name":"kloudpepper-api-key","originId":"api-gateway-origin","usagePlanId":"0aj0l3"}}`,
    );
    expect(calls.find((c) => c.call === 'apigateway:DeleteApiKey')?.detail).toBe(
      'the superseded keys: old1 (aaaaaaaaaaaa)',
    );
  });

  it('stops at the lock when another rotation holds it', () => {
    const lock = {
      target: TARGET.name,
      rotationId: 'rot_other_0001',
      acquiredAt: '2026-11-25T08:00:00.000Z',
      expiresAt: '2026-11-25T14:00:00.000Z',
    };
    const calls = rotationPlan(detail, 'keyrot', { lock, superseded: [], now });
    expect(calls).toHaveLength(2);
    expect(calls[1]?.detail).toBe(
      'lock of kloudpepper-api-key is held by rot_other_0001 until 2026-11-25T14:00:00.000Z: the request would be REFUSED and nothing else would happen',
    );
    // An expired lock would be taken over.
    expect(
      rotationPlan(detail, 'keyrot', {
        lock,
        superseded: [],
        now: new Date('2026-11-26T00:00:00.000Z'),
      }),
    ).toHaveLength(18);
  });
});

describe('ledger list', () => {
  it("groups the target's history into rotations, newest first, each read to its first step", async () => {
    const ledger = new FakeLedgerQueries();
    const other = (s: StepRecord) => ({ ...s, rotationId: 'rot_20261124T090000Z_cli00000' });
    ledger.steps.push(
      other(step('REQUESTED', '2026-11-24T09:00:00.000Z', { reason: 'scheduled' })),
      other(step('COMPLETED', '2026-11-24T09:05:00.000Z')),
      step('REQUESTED', '2026-11-25T09:00:00.000Z', { reason: 'manual' }),
      step('KEY_CREATED', '2026-11-25T09:00:01.000Z', { newKey: NEW_KEY }),
    );
    const { ctx, written } = fakeContext(ledger, { output: 'csv' });

    await listRotations(ctx, { target: TARGET.name, limit: '1' });

    expect(written.out).toBe(
      'rotation,started,reason,outcome,duration (s),new key,fingerprint,error\n' +
        `${ROTATION},2026-11-25T09:00:00.000Z,manual,IN_PROGRESS (KEY_CREATED),,newkey01,0123456789ab,\n`,
    );
  });
});

describe('report and export of one target', () => {
  it('refuse a target nobody knows instead of reporting nothing about it', async () => {
    const ledger = new FakeLedgerQueries();
    const { ctx } = fakeContext(ledger);
    await expect(
      report(ctx, { since: '2026-11-01', format: 'md', policyDays: '31', target: 'nope' }),
    ).rejects.toThrow(
      '--target: unknown target "nope": not in ledger keyrot-ledger (no target is known)',
    );
    await expect(
      exportLedger(ctx, { since: '2026-11-01', format: 'jsonl', target: 'nope' }),
    ).rejects.toThrow(UnknownTargetError);
  });
});

describe('errors and exit codes', () => {
  const where = { endpoint: 'http://127.0.0.1:9', table: 'keyrot-ledger' };
  const sdkError = (name: string, message: string, extra: object = {}) =>
    Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 }, ...extra });

  it.each([
    [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }),
      AwsUnavailableError,
      'cannot reach http://127.0.0.1:9: ECONNREFUSED',
    ],
    [
      new AwsCallError(
        'Query',
        'ledger keyrot-ledger',
        sdkError('ResourceNotFoundException', 'Requested resource not found'),
      ),
      AwsUnavailableError,
      'ledger table keyrot-ledger not found at http://127.0.0.1:9',
    ],
    [
      sdkError('AccessDeniedException', 'not allowed'),
      AwsUnavailableError,
      'AWS refused a call: AccessDeniedException (not allowed)',
    ],
    [
      sdkError('CredentialsProviderError', 'Could not load credentials from any providers'),
      AwsUnavailableError,
      'no AWS credentials: pass --profile or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (Could not load credentials from any providers)',
    ],
    [
      new Error('Region is missing'),
      UsageError,
      '--region: not set: pass --region, or set AWS_REGION or a profile region',
    ],
    [new TypeError('x is undefined'), InternalError, 'internal error: TypeError: x is undefined'],
  ])('%s becomes one line and its exit code', (error, type, message) => {
    const failure = toCliError(error, where);
    expect(failure).toBeInstanceOf(type);
    expect(failure.message).toBe(message);
  });

  it('runs without AWS for help (0), and refuses an unknown command or option (2)', async () => {
    const streams = () => {
      const written = { out: '', err: '' };
      return {
        written,
        streams: { out: (t: string) => (written.out += t), err: (t: string) => (written.err += t) },
      };
    };
    const help = streams();
    await expect(run(['--help'], help.streams)).resolves.toBe(0);
    expect(help.written.out).toContain('Exit codes:');
    const version = streams();
    await expect(run(['--version'], version.streams)).resolves.toBe(0);
    expect(version.written).toEqual({ out: '0.1.0\n', err: '' });
    const unknown = streams();
    await expect(run(['rotat'], unknown.streams)).resolves.toBe(2);
    expect(unknown.written.err).toBe("keyrot: unknown command 'rotat' (Did you mean rotate?)\n");
    const missing = streams();
    await expect(run(['report'], missing.streams, { env: {} })).resolves.toBe(2);
    expect(missing.written.err).toBe("keyrot: required option '--since <date>' not specified\n");
    const endpoint = streams();
    await expect(
      run(['--endpoint', 'localhost:9', 'status'], endpoint.streams, { env: {} }),
    ).resolves.toBe(2);
    expect(endpoint.written.err).toBe('keyrot: --endpoint: "localhost:9" must be an http(s) URL\n');
  });
});
