/**
 * Reads the state of a rotation back from the emulated AWS accounts: the ledger, the API
 * keys, the usage plan and the distribution. The demo and the integration tests judge a
 * rotation by these reads, never by what the code under test returned.
 */
import {
  APIGatewayClient,
  GetApiKeyCommand,
  GetUsagePlanKeysCommand,
  NotFoundException,
} from '@aws-sdk/client-api-gateway';
import { CloudFrontClient, GetDistributionConfigCommand } from '@aws-sdk/client-cloudfront';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDbLedger,
  fingerprintOf,
  rotationState,
  type Lock,
  type StepRecord,
} from '@keyrot/shared';
import { clientConfig } from './accounts';
import { correctUsagePlanKeys } from './apigateway-sim';
import { API_KEY_HEADER_NAME, ORIGIN_ID, type LocalWorld } from './provision';

/** The target the seed's schedule names in the local world. */
export const TARGET_NAME = 'kloudpepper-api-key';

export function ledgerOf(world: LocalWorld): DynamoDbLedger {
  return new DynamoDbLedger(
    new DynamoDBClient(clientConfig(world.api.session)),
    world.api.ledgerTableName,
  );
}

/** Fingerprint of a key read back from API Gateway, or null if the key no longer exists. */
export async function keyFingerprint(world: LocalWorld, keyId: string): Promise<string | null> {
  const client = new APIGatewayClient(clientConfig(world.api.session));
  try {
    const key = await client.send(new GetApiKeyCommand({ apiKey: keyId, includeValue: true }));
    return key.value ? fingerprintOf(key.value) : null;
  } catch (error) {
    if (error instanceof NotFoundException) return null;
    throw error;
  }
}

/** Ids of the keys on the usage plan, as AWS would list them (see apigateway-sim.ts). */
export async function liveKeysOnPlan(world: LocalWorld): Promise<string[]> {
  const client = correctUsagePlanKeys(new APIGatewayClient(clientConfig(world.api.session)));
  const out = await client.send(
    new GetUsagePlanKeysCommand({ usagePlanId: world.api.usagePlanId }),
  );
  return (out.items ?? []).map((k) => k.id!);
}

export interface EdgeState {
  /** Fingerprint of the key origin api-gateway-origin sends (null if no header). */
  readonly apiKeyFingerprint: string | null;
  /** Every other header of every origin, name → fingerprint of its value. */
  readonly otherHeaders: Record<string, string>;
  readonly originIds: string[];
}

export async function readEdge(world: LocalWorld): Promise<EdgeState> {
  const client = new CloudFrontClient(clientConfig(world.edge.session));
  const out = await client.send(
    new GetDistributionConfigCommand({ Id: world.edge.distributionId }),
  );
  const origins = out.DistributionConfig?.Origins?.Items ?? [];
  let apiKeyFingerprint: string | null = null;
  const otherHeaders: Record<string, string> = {};
  for (const origin of origins) {
    for (const header of origin.CustomHeaders?.Items ?? []) {
      const fp = fingerprintOf(header.HeaderValue ?? '');
      if (origin.Id === ORIGIN_ID && header.HeaderName?.toLowerCase() === API_KEY_HEADER_NAME) {
        apiKeyFingerprint = fp;
      } else {
        otherHeaders[`${origin.Id}/${header.HeaderName}`] = fp;
      }
    }
  }
  return { apiKeyFingerprint, otherHeaders, originIds: origins.map((o) => o.Id!) };
}

/** The rotations of the target, oldest first, from the ledger's target index. */
export async function rotationIds(world: LocalWorld, target = TARGET_NAME): Promise<string[]> {
  const steps = await ledgerOf(world).history(target);
  const requested = steps.filter((s) => s.step === 'REQUESTED').reverse();
  return requested.map((s) => s.rotationId);
}

export interface RotationReport {
  readonly rotationId: string;
  readonly status: 'COMPLETED' | 'FAILED' | 'REFUSED' | 'IN_PROGRESS';
  readonly oldKeyIds: string[];
  readonly newKeyId: string | null;
  readonly edgeHeaderMatchesNewKey: boolean;
  readonly otherClientKeySurvived: boolean;
  readonly oldKeysDeleted: boolean;
  readonly lockReleased: boolean;
  readonly steps: StepRecord[];
  readonly lock: Lock | undefined;
}

/** Everything the demo and tests check about one rotation, read back from AWS. */
export async function reportRotation(
  world: LocalWorld,
  rotationId: string,
): Promise<RotationReport> {
  const ledger = ledgerOf(world);
  const steps = await ledger.timeline(rotationId);
  const state = rotationState(steps);
  const outcome = state.outcome?.step === 'REJECTED' ? undefined : state.outcome?.step;
  const newKeyId = state.step('KEY_CREATED')?.newKey.id ?? null;
  const oldKeyIds = (state.step('KEYS_RETIRED')?.keys ?? []).map((k) => k.id);
  const [edge, newKeyFp, otherFp, oldFps, lock] = await Promise.all([
    readEdge(world),
    newKeyId ? keyFingerprint(world, newKeyId) : null,
    keyFingerprint(world, world.api.otherClientKeyId),
    Promise.all(oldKeyIds.map((id) => keyFingerprint(world, id))),
    ledger.lockOf(TARGET_NAME),
  ]);
  const onPlan = await liveKeysOnPlan(world);
  return {
    rotationId,
    status: outcome ?? 'IN_PROGRESS',
    oldKeyIds,
    newKeyId,
    edgeHeaderMatchesNewKey: newKeyFp !== null && edge.apiKeyFingerprint === newKeyFp,
    otherClientKeySurvived: otherFp !== null && onPlan.includes(world.api.otherClientKeyId),
    oldKeysDeleted: oldFps.every((fp) => fp === null),
    lockReleased: lock?.rotationId !== rotationId,
    steps,
    lock,
  };
}
