/**
 * What moto's API Gateway gets wrong for keyrot, corrected as SDK middleware on the
 * functions' API Gateway client (test infrastructure, never product code): on AWS,
 * `DeleteApiKey` also removes the key from its usage plans; moto leaves the usage-plan entry
 * behind, so `GetUsagePlanKeys` would keep listing deleted keys. The middleware drops the
 * entries of keys that no longer exist. And on AWS, `GetUsagePlanKeys` and
 * `CreateUsagePlanKey` on a usage plan that does not exist (deleted meanwhile) answer
 * `NotFoundException`; moto lists nothing and adds the key to the missing plan.
 */
import {
  GetApiKeysCommand,
  GetUsagePlanCommand,
  type APIGatewayClient,
} from '@aws-sdk/client-api-gateway';

const PLAN_COMMANDS = ['GetUsagePlanKeysCommand', 'CreateUsagePlanKeyCommand'];

export function correctUsagePlanKeys(client: APIGatewayClient): APIGatewayClient {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (PLAN_COMMANDS.includes(context.commandName ?? '')) {
        // A plan that does not exist answers NotFoundException, as AWS does for these calls.
        const { usagePlanId } = args.input as { usagePlanId: string };
        await client.send(new GetUsagePlanCommand({ usagePlanId }));
      }
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
