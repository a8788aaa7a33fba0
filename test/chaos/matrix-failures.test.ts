/**
 * Fault matrix, failures: AWS faults that outlast the SDK's retries, resources deleted in
 * the middle of a rotation, and CloudFront deployments longer than one Lambda run or never
 * finishing. A rotation that cannot complete ends as RotationFailed with its reason, the old
 * key serving; a new key no delivery can install is rolled back; an operator can retry.
 */
import { rotationState } from '@keyrot/shared';
import { CloudFrontClient, DeleteDistributionCommand } from '@aws-sdk/client-cloudfront';
import { APIGatewayClient, DeleteUsagePlanCommand } from '@aws-sdk/client-api-gateway';
import { clientConfig } from '../../harness/accounts';
import { ledgerOf, liveKeysOnPlan } from '../../harness/inspect';
import type { ChaosWorld, Check } from '../support/chaos';
import {
  defineCases,
  envelopeOf,
  FAILED_ROLLED_BACK,
  failedWith,
  initialKeyStillExists,
  LONG_DEPLOY,
  MINUTE,
  newKeyGone,
  newKeyKept,
  oneNewKey,
  oneUpdate,
  ROTATED,
  type Case,
} from './cases';

/** The edge-updater tried again later: at least `n` scheduled events of `detailType` ran. */
function triedAgain(world: ChaosWorld, detailType: string, n: number): Check {
  const ran = world.env.runner.schedulesRun.filter((s) => s.detailType === detailType).length;
  return { name: `tried again later (${detailType})`, ok: ran >= n, detail: `${ran} scheduled` };
}

const cases: Case[] = [
  // Faults that outlast the SDK's retries reach the functions.
  {
    id: 'kms-encrypt-denied',
    group: 'persistent fault',
    fault: 'KMS Encrypt denied (issuer)',
    options: { faults: [{ fault: 'access-denied', operations: ['Encrypt'], times: Infinity }] },
    expect: { ...FAILED_ROLLED_BACK, withoutSteps: ['KEY_SENT'] },
    checks: async (world) => [
      await failedWith(world, 'AwsCallError', 'issue'),
      await newKeyGone(world),
    ],
  },
  {
    id: 'kms-decrypt-denied',
    group: 'persistent fault',
    fault: 'KMS Decrypt denied (edge-updater)',
    options: { faults: [{ fault: 'access-denied', operations: ['Decrypt'], times: Infinity }] },
    expect: FAILED_ROLLED_BACK,
    checks: async (world) => [
      await failedWith(world, 'AwsCallError', 'edge'),
      await newKeyGone(world),
      { name: 'distribution never updated', ok: world.cloudFront.updates === 0 },
    ],
  },
  {
    id: 'usage-plan-key-5xx',
    group: 'persistent fault',
    fault: 'API Gateway CreateUsagePlanKey 5xx on every attempt, past half the lock (30 min)',
    options: {
      faults: [{ fault: 'server-error', operations: ['CreateUsagePlanKey'], times: Infinity }],
      keyrot: { lockSeconds: 3600 },
    },
    // Tried again later until half the lock is gone; then the unannounced key is rolled back.
    expect: { ...FAILED_ROLLED_BACK, withoutSteps: ['KEY_ASSOCIATED', 'KEY_SENT'] },
    checks: async (world) => [
      await failedWith(world, 'AwsCallError', 'issue'),
      await newKeyGone(world),
      triedAgain(world, 'KeyRotationRequested', 3),
    ],
  },
  ...(
    [
      ['CreateApiKey', 'throttle', 'KeyRotationRequested'],
      ['GetUsagePlanKeys', 'throttle', 'KeyRotationRequested'],
      ['CreateUsagePlanKey', 'server-error', 'KeyRotationRequested'],
      ['DeleteApiKey', 'throttle', 'RetireRetry'],
    ] as const
  ).map(([operation, fault, retry]): Case => ({
    id: `${operation.replace(/[A-Z]/g, (c, i: number) => `${i ? '-' : ''}${c.toLowerCase()}`)}-${fault}-minutes`,
    group: 'long throttling',
    fault: `API Gateway ${operation} ${fault === 'throttle' ? 'throttled' : '5xx'} for 10 minutes (longer than one run's retries)`,
    options: { faults: [{ fault, operations: [operation], forMs: 10 * MINUTE }] },
    expect: ROTATED,
    checks: async (world) => [
      await oneNewKey(world),
      oneUpdate(world),
      triedAgain(world, retry, 1),
    ],
  })),
  {
    id: 'update-distribution-throttled',
    group: 'persistent fault',
    fault: 'CloudFront UpdateDistribution throttled on every attempt, past the deadline (30 min)',
    options: {
      faults: [{ fault: 'throttle', operations: ['UpdateDistribution'], times: Infinity }],
      keyrot: { deployDeadlineMs: 30 * MINUTE },
    },
    // Tried again with doubling delays until the deadline; a redelivery could still write
    // the key, so it is kept, not rolled back.
    expect: { outcome: 'FAILED', withoutSteps: ['ROLLED_BACK', 'KEYS_RETIRED'], edgeSends: 'old' },
    checks: async (world) => [
      await failedWith(world, 'AwsCallError', 'edge'),
      await newKeyKept(world),
      await initialKeyStillExists(world),
      triedAgain(world, 'EdgeUpdateRetry', 3),
    ],
  },
  {
    id: 'update-distribution-throttled-minutes',
    group: 'long throttling',
    fault: "CloudFront UpdateDistribution throttled for 10 minutes (longer than one run's retries)",
    options: {
      faults: [{ fault: 'throttle', operations: ['UpdateDistribution'], forMs: 10 * MINUTE }],
    },
    expect: ROTATED,
    checks: async (world) => [
      await oneNewKey(world),
      oneUpdate(world),
      triedAgain(world, 'EdgeUpdateRetry', 1),
    ],
  },
  {
    id: 'get-distribution-5xx',
    group: 'persistent fault',
    fault:
      'CloudFront GetDistribution 5xx on every attempt while waiting for Deployed, past the deadline (30 min)',
    options: {
      faults: [{ fault: 'server-error', operations: ['GetDistribution'], times: Infinity }],
      keyrot: { deployDeadlineMs: 30 * MINUTE },
    },
    // The header was written: edge locations adopt it; both keys stay live.
    expect: { outcome: 'FAILED', withoutSteps: ['ROLLED_BACK', 'KEYS_RETIRED'], edgeSends: 'new' },
    checks: async (world) => [
      await failedWith(world, 'AwsCallError', 'edge'),
      await newKeyKept(world),
      await initialKeyStillExists(world),
      triedAgain(world, 'EdgeDeploymentCheck', 3),
    ],
  },
  {
    id: 'get-distribution-5xx-minutes',
    group: 'long throttling',
    fault: 'CloudFront GetDistribution 5xx for 5 minutes while waiting for Deployed',
    options: {
      faults: [{ fault: 'server-error', operations: ['GetDistribution'], forMs: 5 * MINUTE }],
    },
    expect: ROTATED,
    checks: async (world) => [
      await oneNewKey(world),
      oneUpdate(world),
      triedAgain(world, 'EdgeDeploymentCheck', 1),
    ],
  },
  {
    id: 'key-created-not-published',
    group: 'persistent fault',
    fault: 'EventBridge PutEvents 5xx on every attempt (KeyCreated, then RotationFailed)',
    options: {
      faults: [
        {
          fault: 'server-error',
          operations: ['PutEvents'],
          service: 'key-issuer',
          times: Infinity,
        },
      ],
    },
    // A 5xx may hide a delivered event: the issuer keeps the new key and closes the rotation.
    expect: { outcome: 'FAILED', withoutSteps: ['ROLLED_BACK'], edgeSends: 'old' },
    checks: async (world) => [
      await failedWith(world, 'PublishError', 'issue'),
      await newKeyKept(world),
    ],
  },
  {
    id: 'delete-key-denied',
    group: 'persistent fault',
    fault: 'API Gateway DeleteApiKey denied (reaper)',
    options: {
      faults: [
        {
          fault: 'access-denied',
          operations: ['DeleteApiKey'],
          service: 'key-reaper',
          times: Infinity,
        },
      ],
    },
    expect: { outcome: 'FAILED', steps: ['EDGE_UPDATED'], edgeSends: 'new' },
    checks: async (world) => [
      await failedWith(world, 'AwsCallError', 'retire'),
      await initialKeyStillExists(world),
    ],
  },
  {
    id: 'ledger-down',
    group: 'persistent fault',
    fault: 'DynamoDB 5xx on every attempt when the request arrives',
    options: {
      faults: [{ fault: 'server-error', awsService: 'DynamoDB', times: Infinity }],
    },
    // Nothing can be recorded, so nothing is done: Lambda retries twice, then the issuer's
    // on-failure destination puts the request in its dead-letter queue.
    expect: { outcome: 'NONE', edgeSends: 'old' },
    checks: (world) => [
      {
        name: 'the request is in the dead-letter queue',
        ok: world.env.runner.deadLetters.some((d) => d.detailType === 'KeyRotationRequested'),
      },
      {
        name: 'no key created',
        ok: !world.faults.injections.some((i) => i.operation === 'CreateApiKey'),
      },
    ],
  },
  {
    id: 'issuer-dies-for-good',
    group: 'persistent fault',
    fault: 'the issuer dies on every delivery after taking the lock; then another request',
    options: {
      faults: [
        {
          fault: 'crash-after',
          service: 'key-issuer',
          operations: ['TransactWriteItems'],
          inputContains: 'STEP#01#REQUESTED',
        },
        {
          fault: 'crash-after',
          service: 'key-issuer',
          operations: ['GetUsagePlanKeys'],
          times: Infinity,
        },
      ],
    },
    act: async (world) => {
      await world.rotate();
      await world.env.handlers['key-issuer'](
        envelopeOf(world, 'KeyRotationRequested', world.env.world.scheduleInput),
      );
      await world.env.runner.drain();
    },
    // The dead rotation keeps its lock until it expires (LOCK_SECONDS); the DLQ holds its
    // request (Lambda's failure record, through the issuer's on-failure destination) and the
    // alarms on the DLQ and on rotations in flight page someone.
    expect: {
      outcome: 'IN_PROGRESS',
      steps: ['REQUESTED'],
      withoutSteps: ['KEY_CREATED'],
      edgeSends: 'old',
      lockHeld: true,
    },
    checks: async (world) => {
      const dead = await world.latestRotationId();
      const history = await ledgerOf(world.env.world).history('kloudpepper-api-key');
      const refused = history.filter((s) => s.step === 'REFUSED');
      return [
        {
          name: 'the request is in the dead-letter queue after 3 attempts',
          ok: world.env.runner.deadLetters.some((d) => d.detailType === 'KeyRotationRequested'),
        },
        {
          name: 'the next request is refused, naming the dead rotation',
          ok:
            refused.length === 1 && refused[0]!.step === 'REFUSED' && refused[0]!.lockedBy === dead,
        },
        { name: 'no key created', ok: await noNewKey(world) },
      ];
    },
  },
  {
    id: 'kms-denied-then-retry',
    group: 'persistent fault',
    fault: 'KMS Encrypt denied, then the operator retries',
    options: { faults: [{ fault: 'access-denied', operations: ['Encrypt'], times: 1 }] },
    act: async (world) => {
      await world.rotate();
      await world.rotate();
    },
    expect: ROTATED,
    checks: async (world) => {
      const ledger = ledgerOf(world.env.world);
      const history = await ledger.history('kloudpepper-api-key');
      const outcomes = history.filter((s) => s.step === 'FAILED' || s.step === 'COMPLETED');
      return [
        {
          name: 'the first rotation failed and was rolled back, the retry completed',
          ok:
            outcomes
              .map((s) => s.step)
              .sort()
              .join() === 'COMPLETED,FAILED' && history.some((s) => s.step === 'ROLLED_BACK'),
        },
        await oneNewKey(world),
      ];
    },
  },

  // Resources deleted by someone else in the middle of a rotation.
  {
    id: 'distribution-deleted',
    group: 'deleted mid-rotation',
    fault: 'distribution deleted right after KeyCreated was sent',
    setup: (world) =>
      world.faults.add({
        fault: 'action-after',
        operations: ['PutItem'],
        inputContains: 'STEP#06#KEY_SENT',
        action: () => deleteDistribution(world),
      }),
    // The edge locations keep serving what they adopted (the old key, still live).
    expect: FAILED_ROLLED_BACK,
    checks: async (world) => [
      await failedWith(world, 'ResourceNotFoundError', 'edge'),
      await newKeyGone(world),
    ],
  },
  {
    id: 'usage-plan-deleted',
    group: 'deleted mid-rotation',
    fault: 'usage plan deleted right after the new key was created',
    setup: (world) =>
      world.faults.add({
        fault: 'action-after',
        operations: ['PutItem'],
        inputContains: 'STEP#03#KEY_CREATED',
        action: () => deleteUsagePlan(world),
      }),
    // Without its plan no key passes API Gateway: that outage is the deletion's, not keyrot's.
    expect: { ...FAILED_ROLLED_BACK, edgeKeyLive: false, failedRequests: 'not-measured' },
    checks: async (world) => [
      await failedWith(world, 'ResourceNotFoundError', 'issue'),
      await newKeyGone(world),
      await initialKeyStillExists(world),
    ],
  },

  // CloudFront slower than one Lambda run.
  {
    id: 'deploy-25-min',
    group: 'long deploy',
    fault: 'Deployed after 25 min: longer than one 15-min Lambda run',
    options: LONG_DEPLOY,
    expect: ROTATED,
    checks: async (world) => [
      await continuedInScheduledCheck(world),
      await waitedAtLeast(world, 15),
    ],
  },
  {
    id: 'deploy-crash-after-schedule',
    group: 'long deploy',
    fault: 'deploy > 15 min, and the process dies right after scheduling the re-check',
    options: {
      ...LONG_DEPLOY,
      faults: [{ fault: 'crash-after', operations: ['CreateSchedule'] }],
    },
    expect: ROTATED,
    checks: async (world) => [
      await continuedInScheduledCheck(world),
      {
        name: 'each check ran once',
        ok:
          new Set(world.env.runner.schedulesRun.map((s) => s.name)).size ===
          world.env.runner.schedulesRun.length,
      },
    ],
  },
  {
    id: 'edge-never-deploys',
    group: 'long deploy',
    fault: 'two edge locations never adopt the update (deadline 45 min)',
    options: { ...LONG_DEPLOY, keyrot: { recheckDelayMs: MINUTE, deployDeadlineMs: 45 * MINUTE } },
    setup: (world) => world.cloudFront.stickEdges(2),
    // Some locations send the new key, the stuck ones the old: both stay live.
    expect: { outcome: 'FAILED', withoutSteps: ['ROLLED_BACK', 'KEYS_RETIRED'], edgeSends: 'any' },
    checks: async (world) => [
      await failedWith(world, 'DeploymentTimeoutError', 'edge'),
      await newKeyKept(world),
      await initialKeyStillExists(world),
    ],
  },
  {
    id: 'edge-recovers-retry',
    group: 'long deploy',
    fault: 'edge never deploys; it recovers and the operator retries',
    options: { ...LONG_DEPLOY, keyrot: { recheckDelayMs: MINUTE, deployDeadlineMs: 45 * MINUTE } },
    setup: (world) => world.cloudFront.stickEdges(2),
    act: async (world) => {
      await world.rotate();
      // The edge recovers: the stuck locations catch up, and new updates deploy quickly.
      world.cloudFront.releaseStuckEdges();
      world.cloudFront.propagationMs = 2 * MINUTE;
      await world.rotate();
    },
    expect: ROTATED,
    checks: async (world) => [await oneNewKey(world)],
  },
];

defineCases(__filename, cases);

/** The plan holds only the keys it started with. */
async function noNewKey(world: ChaosWorld): Promise<boolean> {
  const { world: local } = world.env;
  const onPlan = (await liveKeysOnPlan(local)).sort();
  return (
    JSON.stringify(onPlan) ===
    JSON.stringify([local.api.initialKeyId, local.api.otherClientKeyId].sort())
  );
}

async function deleteDistribution(world: ChaosWorld): Promise<void> {
  const { edge } = world.env.world;
  const client = new CloudFrontClient(clientConfig(edge.session));
  await client.send(new DeleteDistributionCommand({ Id: edge.distributionId, IfMatch: 'any' }));
}

async function deleteUsagePlan(world: ChaosWorld): Promise<void> {
  const { api } = world.env.world;
  const client = new APIGatewayClient(clientConfig(api.session));
  await client.send(new DeleteUsagePlanCommand({ usagePlanId: api.usagePlanId }));
}

async function continuedInScheduledCheck(world: ChaosWorld): Promise<Check> {
  const checks = world.env.runner.schedulesRun.filter(
    (s) => s.detailType === 'EdgeDeploymentCheck',
  );
  return {
    name: 'the wait continued in a scheduled EdgeDeploymentCheck',
    ok: checks.length >= 1,
    detail: `${checks.length} check(s)`,
  };
}

async function waitedAtLeast(world: ChaosWorld, minutes: number): Promise<Check> {
  const steps = await ledgerOf(world.env.world).timeline((await world.latestRotationId())!);
  const edge = rotationState(steps).step('EDGE_UPDATED');
  const waited = edge ? Date.parse(edge.at) - Date.parse(edge.updatedAt) : 0;
  return {
    name: `Deployed more than ${minutes} min after the header was set`,
    ok: waited > minutes * MINUTE,
    detail: `${(waited / MINUTE).toFixed(1)} min`,
  };
}
