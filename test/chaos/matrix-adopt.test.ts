/**
 * Fault matrix, adoption: the edge sends a key someone made by hand under another name (keyrot
 * never created it). The operator hands it to keyrot with the real `keyrot adopt` (the CLI
 * process, the operator's credentials of both accounts), and the next rotation, under live
 * traffic, retires it with 0 failed requests. Without the adoption the rotation refuses to
 * replace a key it does not know (EdgeDriftError) and deletes nothing: the control.
 */
import {
  CloudFrontClient,
  GetDistributionConfigCommand,
  UpdateDistributionCommand,
} from '@aws-sdk/client-cloudfront';
import {
  APIGatewayClient,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
} from '@aws-sdk/client-api-gateway';
import { clientConfig } from '../../harness/accounts';
import { ledgerOf, liveKeysOnPlan, TARGET_NAME } from '../../harness/inspect';
import { runCli, scratchDir, worldTarget, writeTargetsFile, profilesEnv } from '../support/cli';
import type { ChaosWorld, Check } from '../support/chaos';
import { defineCases, oneNewKey, ROTATED, type Case } from './cases';

const HAND_NAME = 'legacy-edge-key';

/** Hand-made keys, by world: made in `setup`, checked after the rotation. */
const handKeys = new WeakMap<ChaosWorld, string>();

/**
 * Someone made a key by hand under another name, added it to the target's plan and set the
 * origin's header to it (through the simulated CloudFront, so the edge locations adopt it).
 */
async function edgeSendsHandMadeKey(world: ChaosWorld): Promise<void> {
  const { api, edge } = world.env.world;
  const apigw = new APIGatewayClient(clientConfig(api.session));
  const made = await apigw.send(new CreateApiKeyCommand({ name: HAND_NAME, enabled: true }));
  await apigw.send(
    new CreateUsagePlanKeyCommand({
      usagePlanId: api.usagePlanId,
      keyId: made.id!,
      keyType: 'API_KEY',
    }),
  );
  apigw.destroy();
  world.keyValues.add(made.value!);
  handKeys.set(world, made.id!);
  world.origin.refresh();
  const cloudFront = world.cloudFront.attach(new CloudFrontClient(clientConfig(edge.session)));
  const current = await cloudFront.send(
    new GetDistributionConfigCommand({ Id: edge.distributionId }),
  );
  const config = current.DistributionConfig!;
  const origin = config.Origins!.Items!.find((o) => o.Id === edge.originId)!;
  origin.CustomHeaders!.Items!.find((h) => h.HeaderName === 'x-api-key')!.HeaderValue = made.value!;
  await cloudFront.send(
    new UpdateDistributionCommand({
      Id: edge.distributionId,
      IfMatch: current.ETag!,
      DistributionConfig: config,
    }),
  );
  cloudFront.destroy();
  // Every edge location sends the hand-made key before the operator acts.
  await world.clock.sleep(world.cloudFront.propagationMs + 1000);
}

/** `keyrot adopt --target T --key-id K --yes`, as the operator runs it. */
async function adopt(world: ChaosWorld, keyId: string) {
  const local = world.env.world;
  const dir = scratchDir();
  const env = profilesEnv(local);
  return runCli(
    [
      '--endpoint',
      world.env.moto.endpoint,
      '--profile',
      'keyrot-api',
      '--edge-profile',
      'keyrot-edge',
      '--targets',
      writeTargetsFile(dir, 'targets.json', [worldTarget(local)]),
      'adopt',
      '--target',
      TARGET_NAME,
      '--key-id',
      keyId,
      '--yes',
    ],
    env,
  );
}

/** The rotation retired the hand-made key, and it no longer exists. */
async function handKeyRetired(world: ChaosWorld): Promise<Check> {
  const hand = handKeys.get(world);
  const rotationId = (await ledgerOf(world.env.world).history(TARGET_NAME)).find(
    (s) => s.step === 'KEYS_RETIRED',
  )?.rotationId;
  const retired = rotationId
    ? ((await ledgerOf(world.env.world).timeline(rotationId)).find(
        (s) => s.step === 'KEYS_RETIRED',
      ) as { keys?: { id: string }[] } | undefined)
    : undefined;
  const live = await liveKeysOnPlan(world.env.world);
  return {
    name: 'the adopted hand-made key was retired',
    ok:
      hand !== undefined &&
      (retired?.keys ?? []).some((k) => k.id === hand) &&
      !live.includes(hand),
  };
}

const cases: Case[] = [
  {
    id: 'adopted-hand-named-key',
    group: 'adoption',
    fault: `the edge sends a hand-made key named ${HAND_NAME}; the operator adopts it, then the schedule fires`,
    setup: edgeSendsHandMadeKey,
    act: async (world) => {
      const adopted = await adopt(world, handKeys.get(world)!);
      if (adopted.code !== 0) throw new Error(`keyrot adopt failed: ${adopted.stderr}`);
      await world.rotate();
    },
    expect: ROTATED,
    checks: async (world) => [await handKeyRetired(world), await oneNewKey(world)],
  },
  {
    id: 'hand-named-key-not-adopted',
    group: 'adoption',
    fault: `control: the edge sends a hand-made key named ${HAND_NAME}, not adopted; the schedule fires`,
    setup: edgeSendsHandMadeKey,
    expect: { outcome: 'FAILED', steps: ['ROLLED_BACK'], edgeSends: 'any' },
    checks: async (world) => [
      {
        name: 'control: the hand-made key is kept, still live',
        ok: (await liveKeysOnPlan(world.env.world)).includes(handKeys.get(world) ?? ''),
      },
    ],
  },
];

defineCases(__filename, cases);
