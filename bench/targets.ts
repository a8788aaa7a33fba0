/**
 * Many targets in the local world for the scale benchmark: per target, its own key (named
 * after the target), usage plan and distribution whose API origin sends that key, and its
 * current-key secret (as the edge stack creates it). Plain SDK calls to moto, like
 * harness/provision.ts. Each first key is adopted as docs/deploy.md has operators do before
 * the first rotation (tagged for its target, ADOPTED recorded), so the benchmark measures
 * the monthly rotation's calls, whose superseded key the ledger knows.
 */
import {
  APIGatewayClient,
  CreateApiKeyCommand,
  CreateUsagePlanCommand,
  CreateUsagePlanKeyCommand,
} from '@aws-sdk/client-api-gateway';
import {
  CloudFrontClient,
  CreateDistributionCommand,
  GetDistributionConfigCommand,
} from '@aws-sdk/client-cloudfront';
import {
  adoptionId,
  KEY_TAGS,
  SecretValue,
  stepsOf,
  systemClock,
  type Target,
} from '@keyrot/shared';
import { clientConfig } from '../harness/accounts';
import type { LocalWorld } from '../harness/provision';
import { ledgerOf } from '../harness/inspect';
import { ORIGIN_ID, provisionCurrentKeySecret } from '../harness/provision';

/** Creates `count` targets (at most `parallel` at a time) and returns them. */
export async function provisionTargets(
  world: LocalWorld,
  count: number,
  prefix: string,
  parallel = 16,
): Promise<Target[]> {
  const apigw = new APIGatewayClient(clientConfig(world.api.session));
  const cloudfront = new CloudFrontClient(clientConfig(world.edge.session));
  const ledger = ledgerOf(world);
  // The template: the world's own distribution, with this target's key in its header.
  const template = await cloudfront.send(
    new GetDistributionConfigCommand({ Id: world.edge.distributionId }),
  );
  const one = async (i: number): Promise<Target> => {
    const name = `${prefix}-${String(i).padStart(4, '0')}`;
    const plan = await apigw.send(new CreateUsagePlanCommand({ name: `${name}-plan` }));
    const key = await apigw.send(
      new CreateApiKeyCommand({
        name,
        enabled: true,
        tags: { [KEY_TAGS.managed]: 'true', [KEY_TAGS.target]: name },
      }),
    );
    await apigw.send(
      new CreateUsagePlanKeyCommand({ usagePlanId: plan.id!, keyId: key.id!, keyType: 'API_KEY' }),
    );
    const config = structuredClone(template.DistributionConfig!);
    config.CallerReference = `${name}-${Date.now()}`;
    const origin = config.Origins!.Items!.find((o) => o.Id === ORIGIN_ID)!;
    const headers = (origin.CustomHeaders?.Items ?? []).map((h) =>
      h.HeaderName?.toLowerCase() === 'x-api-key' ? { ...h, HeaderValue: key.value! } : h,
    );
    origin.CustomHeaders = { Quantity: headers.length, Items: headers };
    const created = await cloudfront.send(
      new CreateDistributionCommand({ DistributionConfig: config }),
    );
    await provisionCurrentKeySecret(world.edge.session, world.edge.kmsKeyArn, name);
    const target: Target = {
      name,
      apiKeyName: name,
      usagePlanId: plan.id!,
      distributionId: created.Distribution!.Id!,
      originId: ORIGIN_ID,
      headerName: 'x-api-key',
    };
    const actor = { function: 'keyrot-cli', account: world.api.session.accountId };
    const step = stepsOf(
      'keyrot-cli',
      { rotationId: adoptionId(key.id!), target: name },
      actor,
      systemClock,
    );
    await ledger.adopt(
      step('ADOPTED', {
        keys: [{ id: key.id!, fingerprint: new SecretValue(key.value!).fingerprint }],
        keyName: name,
        targetSpec: target,
        atEdge: true,
        forced: false,
        requestedBy: 'bench',
      }),
    );
    return target;
  };
  const targets: Target[] = [];
  try {
    for (let i = 0; i < count; i += parallel) {
      const batch = Array.from({ length: Math.min(parallel, count - i) }, (_, j) => one(i + j));
      targets.push(...(await Promise.all(batch)));
    }
  } finally {
    apigw.destroy();
    cloudfront.destroy();
  }
  return targets;
}
