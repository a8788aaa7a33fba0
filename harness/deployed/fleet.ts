/**
 * The local fleet of `deployLocal({ fleet: N })` and `npm run demo -- --deployed --fleet N`:
 * up to three targets in the shape of harness/test/iam/keyrot-policies.ts's FLEET, provisioned
 * as a user has them before keyrot: two targets on one distribution (two origins, each sending
 * its own key in `x-api-key`) whose keys live on different usage plans under different names,
 * and a third on another usage plan and another distribution. Each usage plan also holds
 * another client's key, which no rotation may touch. Every first key is made by hand,
 * untagged (the deploy adopts each with `keyrot adopt`). Test and demo infrastructure only.
 */
import type { AccountSession } from '../accounts';
import {
  API_KEY_HEADER_NAME,
  INITIAL_KEY_NAME,
  ORIGIN_ID,
  executeApiDomainName,
  provisionDistribution,
  provisionTargetApi,
  OTHER_HEADER_NAME,
  type ProvisionedTarget,
} from '../provision';

/** One target of the deployed fleet: its manifest entry plus what the harness provisioned. */
export interface FleetTarget {
  readonly name: string;
  readonly apiKeyName: string;
  readonly usagePlanId: string;
  readonly distributionId: string;
  readonly originId: string;
  readonly headerName: string;
  readonly restApiId: string;
  /** The hand-made first key (adopted after the deploy). */
  readonly initialKeyId: string;
  /** Another client's key on the same usage plan: must survive every rotation. */
  readonly otherClientKeyId: string;
}

/** The fleet's shape, in manifest order: which distribution each target's origin is on. */
export const FLEET_SHAPE = [
  // The seed's target: the LocalWorld's (its flat form in the manifest).
  { name: INITIAL_KEY_NAME, apiKeyName: INITIAL_KEY_NAME, distribution: 0, originId: ORIGIN_ID },
  {
    name: 'kloudpepper-admin',
    apiKeyName: 'kloudpepper-admin-key',
    distribution: 0,
    originId: 'admin-api-origin',
  },
  { name: 'shop-api', apiKeyName: 'shop-api-key', distribution: 1, originId: 'shop-origin' },
] as const;

/** Most targets `provisionFleet` makes. */
export const MAX_FLEET_SIZE = FLEET_SHAPE.length;

export interface ProvisionedFleet {
  /** The first target as `provisionTarget` returns it (the deployed world's own target). */
  readonly first: ProvisionedTarget;
  readonly targets: readonly FleetTarget[];
}

/**
 * Provisions the first `size` targets of {@link FLEET_SHAPE}: per target a REST API, stage,
 * usage plan, its first key (named as the target's `apiKeyName`, untagged) and another
 * client's key; per distribution of the shape one distribution whose API origins send those
 * first keys.
 */
export async function provisionFleet(
  apiSession: AccountSession,
  edgeSession: AccountSession,
  size: number,
): Promise<ProvisionedFleet> {
  if (!Number.isInteger(size) || size < 1 || size > MAX_FLEET_SIZE) {
    throw new Error(`provisionFleet: size must be 1 to ${MAX_FLEET_SIZE}, got ${size}`);
  }
  const shape = FLEET_SHAPE.slice(0, size);
  const apis = await Promise.all(
    shape.map((t) => provisionTargetApi(apiSession, { initialKeyName: t.apiKeyName })),
  );
  const distributionIds = new Map<number, string>();
  for (const index of new Set(shape.map((t) => t.distribution))) {
    const origins = shape.flatMap((t, i) =>
      t.distribution === index
        ? [
            {
              originId: t.originId,
              apiDomainName: executeApiDomainName(apis[i]!.restApiId, apiSession.region),
              keyValue: apis[i]!.initialKeyValue,
            },
          ]
        : [],
    );
    distributionIds.set(index, await provisionDistribution(edgeSession, origins));
  }
  const targets = shape.map((t, i): FleetTarget => {
    const api = apis[i]!;
    return {
      name: t.name,
      apiKeyName: t.apiKeyName,
      usagePlanId: api.usagePlanId,
      distributionId: distributionIds.get(t.distribution)!,
      originId: t.originId,
      headerName: API_KEY_HEADER_NAME,
      restApiId: api.restApiId,
      initialKeyId: api.initialKeyId,
      otherClientKeyId: api.otherClientKeyId,
    };
  });
  const [firstApi] = apis;
  const [firstTarget] = targets;
  if (!firstApi || !firstTarget) throw new Error('provisionFleet: no target');
  return {
    first: {
      api: firstApi,
      edge: {
        distributionId: firstTarget.distributionId,
        originId: ORIGIN_ID,
        otherHeaderName: OTHER_HEADER_NAME,
      },
    },
    targets,
  };
}

/**
 * The fleet's keyrot.targets.yml entries: the first in the seed's flat form (as the
 * single-target deploy writes it), the others in the structured form.
 */
export function fleetManifestEntries(targets: readonly FleetTarget[]): Record<string, string>[] {
  return targets.map((t, i): Record<string, string> =>
    i === 0
      ? {
          API_KEY_NAME: t.apiKeyName,
          USAGE_PLAN_ID: t.usagePlanId,
          DISTRIBUTION_ID: t.distributionId,
          ORIGIN_ID: t.originId,
        }
      : {
          name: t.name,
          apiKeyName: t.apiKeyName,
          usagePlanId: t.usagePlanId,
          distributionId: t.distributionId,
          originId: t.originId,
          headerName: t.headerName,
        },
  );
}
