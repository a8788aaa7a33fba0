/**
 * The seed's single rotation Lambda, re-implemented for the benchmark in the order its
 * published code runs (../shared/notes/seed-baseline.md): take `items[0]` of the usage plan
 * as the old key, create and associate the new key, delete the old key, then write the new
 * value into the origin's custom headers (replacing every other header) and return without
 * waiting for `Deployed`. Errors are caught and returned as a status code. Bench code only:
 * this is the baseline keyrot is compared with, not something to run.
 */
import {
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  GetApiKeyCommand,
  GetUsagePlanKeysCommand,
  type APIGatewayClient,
} from '@aws-sdk/client-api-gateway';
import {
  GetDistributionConfigCommand,
  UpdateDistributionCommand,
  type CloudFrontClient,
} from '@aws-sdk/client-cloudfront';
import type { SeedInput } from '@keyrot/shared';

export async function seedRotation(
  input: SeedInput,
  clients: { apigateway: APIGatewayClient; cloudfront: CloudFrontClient },
): Promise<{ statusCode: number }> {
  const { apigateway, cloudfront } = clients;
  try {
    const planKeys = await apigateway.send(
      new GetUsagePlanKeysCommand({ usagePlanId: input.USAGE_PLAN_ID }),
    );
    const oldKey = planKeys.items?.[0];
    const created = await apigateway.send(
      new CreateApiKeyCommand({ name: input.API_KEY_NAME, enabled: true }),
    );
    await apigateway.send(
      new CreateUsagePlanKeyCommand({
        usagePlanId: input.USAGE_PLAN_ID,
        keyId: created.id,
        keyType: 'API_KEY',
      }),
    );
    if (oldKey?.id) await apigateway.send(new DeleteApiKeyCommand({ apiKey: oldKey.id }));
    const newKey = await apigateway.send(
      new GetApiKeyCommand({ apiKey: created.id, includeValue: true }),
    );
    const current = await cloudfront.send(
      new GetDistributionConfigCommand({ Id: input.DISTRIBUTION_ID }),
    );
    const config = current.DistributionConfig!;
    for (const origin of config.Origins?.Items ?? []) {
      if (origin.Id === input.ORIGIN_ID) {
        origin.CustomHeaders = {
          Quantity: 1,
          Items: [{ HeaderName: 'x-api-key', HeaderValue: newKey.value }],
        };
      }
    }
    await cloudfront.send(
      new UpdateDistributionCommand({
        Id: input.DISTRIBUTION_ID,
        IfMatch: current.ETag,
        DistributionConfig: config,
      }),
    );
    return { statusCode: 200 };
  } catch {
    return { statusCode: 500 };
  }
}
