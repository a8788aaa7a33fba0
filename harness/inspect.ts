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
import {
  CloudFrontClient,
  GetDistributionConfigCommand,
  UpdateDistributionCommand,
} from '@aws-sdk/client-cloudfront';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  currentKeySecretName,
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

/**
 * Where a target lives, for the reads below: its usage plan (with another client's key on
 * it), distribution and origin. Default: the world's own target ({@link worldTarget}); a
 * deployed fleet (harness/deployed/fleet.ts) passes each of its targets.
 */
export interface InspectedTarget {
  readonly name: string;
  readonly usagePlanId: string;
  readonly distributionId: string;
  readonly originId: string;
  readonly headerName: string;
  readonly otherClientKeyId: string;
}

/** The world's own target: the seed's, on the world's usage plan and distribution. */
export function worldTarget(world: LocalWorld): InspectedTarget {
  return {
    name: TARGET_NAME,
    usagePlanId: world.api.usagePlanId,
    distributionId: world.edge.distributionId,
    originId: ORIGIN_ID,
    headerName: API_KEY_HEADER_NAME,
    otherClientKeyId: world.api.otherClientKeyId,
  };
}

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
export async function liveKeysOnPlan(
  world: LocalWorld,
  usagePlanId: string = world.api.usagePlanId,
): Promise<string[]> {
  const client = correctUsagePlanKeys(new APIGatewayClient(clientConfig(world.api.session)));
  const out = await client.send(new GetUsagePlanKeysCommand({ usagePlanId }));
  return (out.items ?? []).map((k) => k.id!);
}

export interface EdgeState {
  /** Fingerprint of the key the target's origin sends (null if no header). */
  readonly apiKeyFingerprint: string | null;
  /** Every other header of every origin, name → fingerprint of its value. */
  readonly otherHeaders: Record<string, string>;
  readonly originIds: string[];
}

export async function readEdge(
  world: LocalWorld,
  target: Pick<InspectedTarget, 'distributionId' | 'originId' | 'headerName'> = worldTarget(world),
): Promise<EdgeState> {
  const client = new CloudFrontClient(clientConfig(world.edge.session));
  const out = await client.send(new GetDistributionConfigCommand({ Id: target.distributionId }));
  const origins = out.DistributionConfig?.Origins?.Items ?? [];
  let apiKeyFingerprint: string | null = null;
  const otherHeaders: Record<string, string> = {};
  for (const origin of origins) {
    for (const header of origin.CustomHeaders?.Items ?? []) {
      const fp = fingerprintOf(header.HeaderValue ?? '');
      if (
        origin.Id === target.originId &&
        header.HeaderName?.toLowerCase() === target.headerName.toLowerCase()
      ) {
        apiKeyFingerprint = fp;
      } else {
        otherHeaders[`${origin.Id}/${header.HeaderName}`] = fp;
      }
    }
  }
  return { apiKeyFingerprint, otherHeaders, originIds: origins.map((o) => o.Id!) };
}

/**
 * Fingerprint of the target's current-key reference (its secret's AWSCURRENT version, as a
 * template's dynamic reference would resolve it), or null while it is empty or absent.
 */
export async function readCurrentKeyReference(
  world: LocalWorld,
  targetName: string = TARGET_NAME,
): Promise<string | null> {
  const client = new SecretsManagerClient(clientConfig(world.edge.session));
  try {
    const out = await client.send(
      new GetSecretValueCommand({
        SecretId: currentKeySecretName(world.edge.keyrotStage, targetName),
      }),
    );
    return out.SecretString === undefined ? null : fingerprintOf(out.SecretString);
  } catch (error) {
    // An empty secret has no AWSCURRENT version to read.
    if (error instanceof ResourceNotFoundException) return null;
    throw error;
  } finally {
    client.destroy();
  }
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
  /** The current-key reference names the key the edge sends (what a redeploy would send). */
  readonly referenceMatchesEdge: boolean;
  readonly otherClientKeySurvived: boolean;
  readonly oldKeysDeleted: boolean;
  readonly lockReleased: boolean;
  readonly steps: StepRecord[];
  readonly lock: Lock | undefined;
}

/**
 * Everything the demo and tests check about one rotation of `target` (default the world's),
 * read back from AWS.
 */
export async function reportRotation(
  world: LocalWorld,
  rotationId: string,
  target: InspectedTarget = worldTarget(world),
): Promise<RotationReport> {
  const ledger = ledgerOf(world);
  const steps = await ledger.timeline(rotationId);
  const state = rotationState(steps);
  const outcome = state.outcome?.step === 'REJECTED' ? undefined : state.outcome?.step;
  const newKeyId = state.step('KEY_CREATED')?.newKey.id ?? null;
  const oldKeyIds = (state.step('KEYS_RETIRED')?.keys ?? []).map((k) => k.id);
  const [edge, reference, newKeyFp, otherFp, oldFps, lock] = await Promise.all([
    readEdge(world, target),
    readCurrentKeyReference(world, target.name),
    newKeyId ? keyFingerprint(world, newKeyId) : null,
    keyFingerprint(world, target.otherClientKeyId),
    Promise.all(oldKeyIds.map((id) => keyFingerprint(world, id))),
    ledger.lockOf(target.name),
  ]);
  const onPlan = await liveKeysOnPlan(world, target.usagePlanId);
  return {
    rotationId,
    status: outcome ?? 'IN_PROGRESS',
    oldKeyIds,
    newKeyId,
    edgeHeaderMatchesNewKey: newKeyFp !== null && edge.apiKeyFingerprint === newKeyFp,
    referenceMatchesEdge: reference !== null && reference === edge.apiKeyFingerprint,
    otherClientKeySurvived: otherFp !== null && onPlan.includes(target.otherClientKeyId),
    oldKeysDeleted: oldFps.every((fp) => fp === null),
    lockReleased: lock?.rotationId !== rotationId,
    steps,
    lock,
  };
}

/**
 * Sets the target's header to `value` as an operator (or a redeploy of the user's own
 * template) would: one `UpdateDistribution` with `IfMatch`, not through keyrot, sent to
 * `endpoint` (the deployed front, which records it as CloudTrail would).
 */
export async function setEdgeHeaderAsOperator(
  world: LocalWorld,
  endpoint: string,
  value: string,
): Promise<void> {
  const { edge } = world;
  const client = new CloudFrontClient({ ...clientConfig(edge.session), endpoint });
  try {
    const current = await client.send(
      new GetDistributionConfigCommand({ Id: edge.distributionId }),
    );
    const config = current.DistributionConfig!;
    const origin = config.Origins!.Items!.find((o) => o.Id === edge.originId)!;
    origin.CustomHeaders!.Items!.find((h) => h.HeaderName === API_KEY_HEADER_NAME)!.HeaderValue =
      value;
    await client.send(
      new UpdateDistributionCommand({
        Id: edge.distributionId,
        IfMatch: current.ETag!,
        DistributionConfig: config,
      }),
    );
  } finally {
    client.destroy();
  }
}
