/**
 * The operator's first week (issue 16): what `verify` says when it cannot read the edge,
 * rejected requests in `status` and `ledger list`, `redrive` and `doctor`, on the local world.
 */
import { errorOf, type StepOf } from '@keyrot/shared';
import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import {
  CloudFrontClient,
  GetDistributionConfigCommand,
  UpdateDistributionCommand,
} from '@aws-sdk/client-cloudfront';
import { EventBridgeClient, PutPermissionCommand } from '@aws-sdk/client-eventbridge';
import { KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms';
import { clientConfig } from '../../harness/accounts';
import { FaultInjector } from '../../harness/faults';
import { ledgerOf, readEdge, rotationIds } from '../../harness/inspect';
import type { LocalEnvironment } from '../../harness/local-env';
import type { Envelope } from '../../harness/runner';
import { operatorEnv, runCli, runCliWhileDraining, profilesEnv } from '../support/cli';
import { useMoto } from '../support/local';

jest.setTimeout(90_000);

const fixture = useMoto();
const TARGET = 'kloudpepper-api-key';

async function scheduledRotation(env: LocalEnvironment): Promise<string> {
  await env.runner.fireSchedule();
  await env.runner.drain();
  const ids = await rotationIds(env.world);
  return ids[ids.length - 1]!;
}

/** The CLI as the API account's operator: its credentials in the environment. */
function cli(env: LocalEnvironment) {
  const processEnv = operatorEnv(env.world);
  return (...args: string[]) => runCli(['--endpoint', env.moto.endpoint, ...args], processEnv);
}

/** The CLI with both accounts as profiles, the API account's by default. */
function cliWithProfiles(env: LocalEnvironment) {
  const processEnv = profilesEnv(env.world);
  return (...args: string[]) =>
    runCli(['--endpoint', env.moto.endpoint, '--profile', 'keyrot-api', ...args], processEnv);
}

describe('keyrot verify without the edge account', () => {
  it('exits 5 naming the account whose credentials it used and --edge-profile, and reports no drift', async () => {
    const env = await fixture.world();
    await scheduledRotation(env);

    const result = await cli(env)('-o', 'json', 'verify', '--target', TARGET);

    expect(result.code).toBe(5);
    const findings = JSON.parse(result.stdout) as { check: string; status: string }[];
    expect(findings.filter((f) => f.status === 'drift')).toEqual([]);
    expect(Object.fromEntries(findings.map((f) => [f.check, f.status]))).toEqual({
      'edge-header': 'unread',
      'header-key-live': 'n/a',
      'header-key-managed': 'n/a',
      'ledger-current-key': 'n/a',
      'stray-keys': 'ok',
      lock: 'ok',
    });
    expect(result.stderr.trim().split('\n')).toEqual([
      `keyrot: could not read distribution ${env.world.edge.distributionId} (target ${TARGET}) with the credentials of account 111111111111 (the API account's: no --edge-profile given): NoSuchDistribution; pass --edge-profile <a profile of the edge account>`,
    ]);
  });

  it('still finds no drift with the edge profile', async () => {
    const env = await fixture.world();
    await scheduledRotation(env);

    const result = await cliWithProfiles(env)('--edge-profile', 'keyrot-edge', 'verify');

    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});

describe('rejected requests', () => {
  /** A scheduled-form request whose usage plan id is empty: the issuer rejects it. */
  async function rejectedRequest(env: LocalEnvironment): Promise<void> {
    await env.runner.putOnApiBus('KeyRotationRequested', {
      ...env.world.scheduleInput,
      USAGE_PLAN_ID: '',
    });
    await env.runner.drain();
  }

  it('status shows the last one and why, until the target rotates again', async () => {
    const env = await fixture.world();
    await scheduledRotation(env);
    await rejectedRequest(env);
    const [entry] = await ledgerOf(env.world).history('-');
    expect(entry).toMatchObject({ step: 'REJECTED' });
    const rejected = entry as StepOf<'REJECTED'> | undefined;

    const json = await cli(env)('-o', 'json', 'status');
    const csv = await cli(env)('-o', 'csv', 'status');

    expect(json.code).toBe(0);
    const [row] = JSON.parse(json.stdout) as { target: string; lastRejected: unknown }[];
    expect(row).toMatchObject({
      target: TARGET,
      lastRejected: {
        rotationId: rejected!.rotationId,
        at: rejected!.at,
        field: rejected!.error.field,
        message: rejected!.error.message,
      },
    });
    expect(rejected!.error.field).toBeTruthy();
    // The message names the field: `invalid detail.USAGE_PLAN_ID: must not be empty ...`.
    expect(rejected!.error.message).toContain(rejected!.error.field);
    expect(csv.stdout).toContain(
      `${rejected!.at} ${rejected!.error.message} (${rejected!.rotationId})`,
    );

    // A rotation started since: the rejection is history, no longer the target's news.
    await scheduledRotation(env);
    const after = await cli(env)('-o', 'json', 'status');
    expect(JSON.parse(after.stdout)).toEqual([
      expect.objectContaining({ target: TARGET, lastRejected: null }),
    ]);
  });

  it('status shows a rejection on the target it named, not on another target', async () => {
    const env = await fixture.world();
    await scheduledRotation(env);
    // A bad request for another target (its name is well formed, its plan id is not).
    await env.runner.putOnApiBus('KeyRotationRequested', {
      ...env.world.scheduleInput,
      API_KEY_NAME: 'shop-api',
      USAGE_PLAN_ID: '',
    });
    await env.runner.drain();
    const [other] = await ledgerOf(env.world).history('-');
    expect(other).toMatchObject({ step: 'REJECTED', claimedTarget: 'shop-api' });

    const json = await cli(env)('-o', 'json', 'status');

    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ target: TARGET, lastRejected: null }),
    ]);

    // The control: the same bad request for this target shows on it.
    await rejectedRequest(env);
    const again = await cli(env)('-o', 'json', 'status');
    const [row] = JSON.parse(again.stdout) as { lastRejected: { field: string } | null }[];
    expect(row?.lastRejected?.field).toBeTruthy();
  });

  it('ledger list shows them by default, and --hide-rejected hides them', async () => {
    const env = await fixture.world();
    const rotationId = await scheduledRotation(env);
    await rejectedRequest(env);
    const [rejected] = await ledgerOf(env.world).history('-');

    const shown = await cli(env)('-o', 'json', 'ledger', 'list', '--target', TARGET);
    const hidden = await cli(env)(
      '-o',
      'json',
      'ledger',
      'list',
      '--target',
      TARGET,
      '--hide-rejected',
    );

    expect(shown.code).toBe(0);
    type Row = { rotationId: string; outcome: string; error: string | null };
    expect((JSON.parse(shown.stdout) as Row[]).map((r) => [r.rotationId, r.outcome])).toEqual([
      [rejected!.rotationId, 'REJECTED'],
      [rotationId, 'COMPLETED'],
    ]);
    expect((JSON.parse(shown.stdout) as Row[])[0]!.error).toContain(errorOf(rejected!)?.message);
    expect(hidden.code).toBe(0);
    expect((JSON.parse(hidden.stdout) as Row[]).map((r) => r.rotationId)).toEqual([rotationId]);
  });
});

describe('keyrot redrive', () => {
  /** Lambda's on-failure record of an event a function failed on (docs/operations.md). */
  function failureRecord(envelope: Envelope, functionArn: string) {
    return {
      version: '1.0',
      timestamp: new Date().toISOString(),
      requestContext: {
        requestId: 'c2a6f2ae-7dbb-4d22-8782-d0485c9877e2',
        functionArn: `${functionArn}:$LATEST`,
        condition: 'RetriesExhausted',
        approximateInvokeCount: 3,
      },
      requestPayload: envelope,
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: {
        errorType: 'SimulatedCrash',
        errorMessage: 'simulated crash: the process died before UpdateDistribution',
      },
    };
  }

  it('shows the dead letters, puts a KeyCreated back on the API bus as the API account, then deletes it', async () => {
    // The edge-updater dies before UpdateDistribution on each of its three attempts.
    const faults = new FaultInjector([
      {
        fault: 'crash-before',
        service: 'edge-updater',
        operations: ['UpdateDistribution'],
        times: 3,
      },
    ]);
    const env = await fixture.world({
      keyrot: { decorateClient: faults.decorateClient },
      runner: { hooks: faults.hooks },
    });
    const rotationId = await scheduledRotation(env);
    const [lost] = env.runner.deadLetters;
    expect(lost).toMatchObject({ service: 'edge-updater', detailType: 'KeyCreated' });
    const envelope = env.runner.events.find((e) => e.id === lost!.eventId)!;
    expect(envelope.account).toBe(env.world.api.session.accountId);
    // The old advice, "the bus it was meant for": on the edge bus as the edge account, no
    // function's rule matches a KeyCreated.
    expect(
      env.runner.subscribersOf({ ...envelope, account: env.world.edge.session.accountId }),
    ).toEqual([]);
    const steps = await ledgerOf(env.world).timeline(rotationId);
    expect(steps.map((s) => s.step)).not.toContain('EDGE_UPDATED');

    // The edge-updater's queue, as its stack names it, holding Lambda's record and a message
    // EventBridge dead-lettered (a KeyRetired, which no function consumes).
    const sqs = new SQSClient(clientConfig(env.world.edge.session));
    const { QueueUrl: queueUrl } = await sqs.send(
      new CreateQueueCommand({ QueueName: 'keyrot-edge-updater-prod-dlq' }),
    );
    const region = env.world.edge.session.region;
    const edgeAccount = env.world.edge.session.accountId;
    const functionArn = `arn:aws:lambda:${region}:${edgeAccount}:function:keyrot-edge-updater-prod-updateEdge`;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(failureRecord(envelope, functionArn)),
      }),
    );
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify({
          ...envelope,
          id: 'retired-1',
          'detail-type': 'KeyRetired',
        }),
        MessageAttributes: {
          RULE_ARN: { DataType: 'String', StringValue: 'arn:aws:events:rule/keyrot/x' },
          TARGET_ARN: { DataType: 'String', StringValue: functionArn },
          ERROR_CODE: { DataType: 'String', StringValue: 'SDK_CLIENT_ERROR' },
          ERROR_MESSAGE: { DataType: 'String', StringValue: 'Function does not exist' },
        },
      }),
    );
    const processEnv = profilesEnv(env.world);
    const base = [
      '--endpoint',
      env.moto.endpoint,
      '--profile',
      'keyrot-api',
      '--edge-profile',
      'keyrot-edge',
      '-o',
      'json',
      'redrive',
      '--queue',
      'edge-updater',
    ];
    type Row = { id: string; detailType: string; rotationId: string; target: string };
    type Acted = Row & { action: string; detail: string; error: string; ageSeconds: number };

    const listed = await runCli(base, processEnv);
    const dryRun = await runCli([...base, '--all', '--dry-run'], processEnv);

    expect(listed.code).toBe(0);
    const rows = JSON.parse(listed.stdout) as Acted[];
    const byType = (list: Acted[], type: string) => list.find((r) => r.detailType === type)!;
    expect(byType(rows, 'KeyCreated')).toMatchObject({
      sender: 'lambda',
      rotationId,
      target: TARGET,
      action: 'listed',
      error: expect.stringContaining(
        'RetriesExhausted after 3 attempts of keyrot-edge-updater-prod-updateEdge: SimulatedCrash',
      ),
    });
    expect(byType(rows, 'KeyCreated').ageSeconds).toBeGreaterThanOrEqual(0);
    expect(byType(rows, 'KeyRetired')).toMatchObject({
      sender: 'eventbridge',
      error: expect.stringContaining('SDK_CLIENT_ERROR: Function does not exist'),
    });
    expect(dryRun.code).toBe(0);
    const planned = JSON.parse(dryRun.stdout) as Acted[];
    expect(byType(planned, 'KeyCreated')).toMatchObject({
      action: 'would redrive',
      detail: expect.stringMatching(/^to the api bus keyrot as account 111111111111 /),
    });
    expect(byType(planned, 'KeyRetired').action).toBe('skipped');
    // Nothing changed: no event put, both messages still there.
    expect(await env.runner.drain()).toEqual([]);

    const result = await runCliWhileDraining(env, [...base, '--all'], processEnv);

    expect(result.code).toBe(0);
    const done = JSON.parse(result.stdout) as Acted[];
    expect(byType(done, 'KeyCreated').action).toBe('redriven');
    expect(byType(done, 'KeyRetired').action).toBe('skipped');
    expect(result.stderr).toContain('KeyRetired');
    // The rotation went on from KEY_SENT and completed; the edge sends the new key.
    const after = await ledgerOf(env.world).timeline(rotationId);
    expect(after[after.length - 1]?.step).toBe('COMPLETED');
    const newKey = after.find((s) => s.step === 'KEY_CREATED')!.newKey!;
    expect((await readEdge(env.world)).apiKeyFingerprint).toBe(newKey.fingerprint);
    // Only the message that could not be redriven is left.
    const left = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
    );
    expect((left.Messages ?? []).map((m) => JSON.parse(m.Body!)['detail-type'])).toEqual([
      'KeyRetired',
    ]);
    sqs.destroy();
  });
});

describe('keyrot doctor', () => {
  /**
   * What the deployed stacks grant and the local world leaves out (harness/provision.ts): the
   * bus policies of services/*\/resources/two-account.yml and the KMS key policy of
   * services/edge-updater/resources/edge-account.yml, for stage prod.
   */
  async function grantAsTheStacksDo(env: LocalEnvironment): Promise<void> {
    const { api, edge } = env.world;
    const region = api.session.region;
    const busPolicy = (bus: string, from: string, types: string[]) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'keyrot-partner-account',
            Effect: 'Allow',
            Principal: { AWS: `arn:aws:iam::${from}:root` },
            Action: 'events:PutEvents',
            Resource: bus,
            Condition: {
              StringEquals: { 'events:source': 'keyrot', 'events:detail-type': types },
            },
          },
        ],
      });
    const apiEvents = new EventBridgeClient(clientConfig(api.session));
    const edgeEvents = new EventBridgeClient(clientConfig(edge.session));
    await edgeEvents.send(
      new PutPermissionCommand({
        EventBusName: edge.busName,
        Policy: busPolicy(edge.busArn, api.session.accountId, ['KeyCreated']),
      }),
    );
    await apiEvents.send(
      new PutPermissionCommand({
        EventBusName: api.busName,
        Policy: busPolicy(api.busArn, edge.session.accountId, ['EdgeUpdated', 'RotationFailed']),
      }),
    );
    const role = (account: string, name: string) => `arn:aws:iam::${account}:role/${name}`;
    const grant = (sid: string, account: string, action: string, roleArn: string) => ({
      Sid: sid,
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${account}:root` },
      Action: action,
      Resource: '*',
      Condition: {
        ArnEquals: { 'aws:PrincipalArn': roleArn },
        Null: { 'kms:EncryptionContext:keyrot:rotationId': 'false' },
      },
    });
    await new KMSClient(clientConfig(edge.session)).send(
      new PutKeyPolicyCommand({
        KeyId: edge.kmsKeyArn,
        PolicyName: 'default',
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'EdgeAccountAdministers',
              Effect: 'Allow',
              Principal: { AWS: `arn:aws:iam::${edge.session.accountId}:root` },
              Action: ['kms:DescribeKey', 'kms:GetKeyPolicy', 'kms:PutKeyPolicy'],
              Resource: '*',
            },
            grant(
              'IssuerMayOnlyEncrypt',
              api.session.accountId,
              'kms:Encrypt',
              role(api.session.accountId, `keyrot-key-issuer-prod-${region}`),
            ),
            grant(
              'EdgeUpdaterMayOnlyDecrypt',
              edge.session.accountId,
              'kms:Decrypt',
              role(edge.session.accountId, `keyrot-edge-updater-prod-${region}`),
            ),
          ],
        }),
      }),
    );
  }

  const doctorArgs = ['--edge-profile', 'keyrot-edge', '-o', 'json', 'doctor'];
  const kmsKey = ['--kms-key', 'alias/keyrot-edge'];
  type Row = { target: string; check: string; result: string; detail: string; fix: string | null };
  const results = (stdout: string) =>
    Object.fromEntries(
      (JSON.parse(stdout) as Row[]).map((r) => [`${r.target} ${r.check}`, r.result]),
    );

  it('passes on the healthy world; the role checks are SKIPPED where moto cannot simulate', async () => {
    const env = await fixture.world();
    await scheduledRotation(env);
    await grantAsTheStacksDo(env);

    const result = await cliWithProfiles(env)(...doctorArgs, ...kmsKey);

    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(results(result.stdout)).toEqual({
      [`${TARGET} usage-plan`]: 'PASS',
      [`${TARGET} plan-keys`]: 'PASS',
      [`${TARGET} distribution`]: 'PASS',
      [`${TARGET} origin`]: 'PASS',
      '* api-bus': 'PASS',
      '* partner-bus': 'PASS',
      '* api-bus-policy': 'PASS',
      '* kms-key-policy': 'PASS',
      '* role:key-issuer': 'SKIP',
      '* role:edge-updater': 'SKIP',
      '* role:key-reaper': 'SKIP',
    });
    const rows = JSON.parse(result.stdout) as Row[];
    expect(rows.find((r) => r.check === 'role:key-issuer')?.detail).toMatch(
      /(does not implement|failed to simulate).*not checked/,
    );
  });

  it('fails the right rows, each with a fix: the origin removed, no bus policy, a wrong key', async () => {
    const env = await fixture.world();
    await scheduledRotation(env);
    // The stacks' grants never made (the local world as provisioned), the origin renamed.
    const cloudFront = new CloudFrontClient(clientConfig(env.world.edge.session));
    const current = await cloudFront.send(
      new GetDistributionConfigCommand({ Id: env.world.edge.distributionId }),
    );
    const config = current.DistributionConfig!;
    const origin = config.Origins!.Items!.find((o) => o.Id === env.world.edge.originId)!;
    origin.Id = 'renamed-origin';
    for (const behaviour of [
      config.DefaultCacheBehavior!,
      ...(config.CacheBehaviors?.Items ?? []),
    ]) {
      if (behaviour.TargetOriginId === env.world.edge.originId)
        behaviour.TargetOriginId = 'renamed-origin';
    }
    await cloudFront.send(
      new UpdateDistributionCommand({
        Id: env.world.edge.distributionId,
        IfMatch: current.ETag!,
        DistributionConfig: config,
      }),
    );

    const result = await cliWithProfiles(env)(...doctorArgs, ...kmsKey);

    expect(result.code).toBe(7);
    expect(results(result.stdout)).toMatchObject({
      [`${TARGET} usage-plan`]: 'PASS',
      [`${TARGET} distribution`]: 'PASS',
      [`${TARGET} origin`]: 'FAIL',
      '* partner-bus': 'FAIL',
      '* api-bus-policy': 'FAIL',
      '* kms-key-policy': 'FAIL',
    });
    const rows = JSON.parse(result.stdout) as Row[];
    for (const row of rows.filter((r) => r.result === 'FAIL')) expect(row.fix).toBeTruthy();
    expect(rows.find((r) => r.check === 'origin')?.detail).toContain('renamed-origin');
    expect(result.stderr).toMatch(/^keyrot: 4 check\(s\) failed: /);
  });
});
