/**
 * What moto's API Gateway gets wrong for keyrot, corrected as SDK middleware on the
 * functions' API Gateway client (test infrastructure, never product code): on AWS,
 * `DeleteApiKey` also removes the key from its usage plans; moto leaves the usage-plan entry
 * behind, so `GetUsagePlanKeys` would keep listing deleted keys. The middleware drops the
 * entries of keys that no longer exist.
 */
import { GetApiKeysCommand, type APIGatewayClient } from '@aws-sdk/client-api-gateway';

export function correctUsagePlanKeys(client: APIGatewayClient): APIGatewayClient {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName !== 'GetUsagePlanKeysCommand') return result;
      const output = result.output as { items?: { id?: string }[] };
      const existing = await client.send(new GetApiKeysCommand({ limit: 500 }));
      const ids = new Set((existing.items ?? []).map((k) => k.id));
      output.items = output.items?.filter((item) => ids.has(item.id));
      return result;
    },
    { step: 'initialize', name: 'keyrotUsagePlanKeysAfterDelete' },
  );
  return client;
}
