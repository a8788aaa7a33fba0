/**
 * Fault matrix, AWS calls: throttling and a 5xx on every call of every AWS service keyrot
 * uses (absorbed by the SDK's retries), and `PreconditionFailed` on `UpdateDistribution`.
 */
import {
  CloudFrontClient,
  GetDistributionConfigCommand,
  UpdateDistributionCommand,
} from '@aws-sdk/client-cloudfront';
import { fingerprintOf } from '@keyrot/shared';
import { clientConfig } from '../../harness/accounts';
import type { AwsService } from '../../harness/faults';
import { readEdge } from '../../harness/inspect';
import { OTHER_HEADER_NAME } from '../../harness/provision';
import type { ChaosWorld, Check } from '../support/chaos';
import { defineCases, LONG_DEPLOY, oneNewKey, oneUpdate, ROTATED, type Case } from './cases';

/** Every call to the service: the first attempt throttled, the second a 5xx, the third passes. */
function throttleThen5xx(awsService: AwsService): Case {
  return {
    id: `aws-${awsService.toLowerCase()}`,
    group: 'throttling + 5xx',
    fault: `every ${awsService} call: throttled, then 5xx (within the SDK's retries)`,
    options: {
      faults: [
        { fault: 'throttle', awsService, attempts: [1], times: Infinity },
        { fault: 'server-error', awsService, attempts: [2], times: Infinity },
      ],
    },
    expect: ROTATED,
    checks: async (world) => [await oneNewKey(world), oneUpdate(world), bothFaultKinds(world)],
  };
}

function bothFaultKinds(world: ChaosWorld): Check {
  const kinds = new Set(world.faults.injections.map((i) => i.fault));
  const operations = new Set(world.faults.injections.map((i) => i.operation));
  return {
    name: 'each call was throttled and then failed with a 5xx',
    ok: kinds.has('throttle') && kinds.has('server-error'),
    detail: [...operations].join(' '),
  };
}

const cases: Case[] = [
  {
    id: 'baseline',
    group: 'none',
    fault: 'no fault (reference run)',
    expect: ROTATED,
    checks: async (world) => [await oneNewKey(world), oneUpdate(world)],
  },
  ...(['APIGateway', 'CloudFront', 'DynamoDB', 'EventBridge', 'KMS'] as const).map(throttleThen5xx),
  {
    ...throttleThen5xx('Scheduler'),
    fault: 'every Scheduler call (deploy > 15 min): throttled, then 5xx',
    options: { ...LONG_DEPLOY, ...throttleThen5xx('Scheduler').options },
  },

  // PreconditionFailed: the distribution changes between the edge-updater's read and write.
  {
    id: 'if-match-concurrent-edit',
    group: 'PreconditionFailed',
    fault: 'another header edited between read and UpdateDistribution (412 once)',
    setup: (world) => world.cloudFront.beforeNextUpdate(() => editOtherHeader(world)),
    injects: false,
    expect: ROTATED,
    checks: async (world) => {
      const edge = await readEdge(world.env.world);
      return [
        {
          name: 'the concurrent edit survived the rotation',
          ok: edge.otherHeaders[`api-gateway-origin/${OTHER_HEADER_NAME}`] === CONCURRENT_FP,
        },
        { name: 'retried after 412: two updates', ok: world.cloudFront.updates === 2 },
      ];
    },
  },
  {
    id: 'if-match-always-stale',
    group: 'PreconditionFailed',
    fault: 'PreconditionFailed on every UpdateDistribution (3 attempts)',
    setup: (world) => {
      const stale = (left: number) => async () => {
        world.cloudFront.changeBehindTheScenes(world.env.world.edge.distributionId);
        if (left > 1) world.cloudFront.beforeNextUpdate(stale(left - 1));
      };
      world.cloudFront.beforeNextUpdate(stale(3));
    },
    injects: false,
    // A distribution changing under every write is transient: the write is tried again later
    // (EdgeUpdateRetry) and goes through once the edits stop.
    expect: {
      outcome: 'COMPLETED',
      steps: ['KEY_READY', 'KEY_SENT', 'EDGE_UPDATED', 'KEYS_RETIRED'],
      edgeSends: 'new',
    },
    checks: (world) => [
      {
        name: 'tried again later (EdgeUpdateRetry)',
        ok: world.env.runner.schedulesRun.some((s) => s.detailType === 'EdgeUpdateRetry'),
      },
      { name: 'one distribution update', ok: world.cloudFront.updates === 1 },
    ],
  },
];

defineCases(__filename, cases);

/** The value the concurrent edit writes into the other header, by fingerprint. */
const CONCURRENT_VALUE = 'edited-by-someone-else';
const CONCURRENT_FP = fingerprintOf(CONCURRENT_VALUE);

/** Someone edits another header of the API origin, through CloudFront (the simulated front). */
async function editOtherHeader(world: ChaosWorld): Promise<void> {
  const { edge } = world.env.world;
  const client = world.cloudFront.attach(new CloudFrontClient(clientConfig(edge.session)));
  const read = await client.send(new GetDistributionConfigCommand({ Id: edge.distributionId }));
  const config = read.DistributionConfig!;
  const origin = config.Origins!.Items!.find((o) => o.Id === edge.originId)!;
  for (const header of origin.CustomHeaders!.Items!) {
    if (header.HeaderName === OTHER_HEADER_NAME) header.HeaderValue = CONCURRENT_VALUE;
  }
  await client.send(
    new UpdateDistributionCommand({
      Id: edge.distributionId,
      IfMatch: read.ETag,
      DistributionConfig: config,
    }),
  );
}
