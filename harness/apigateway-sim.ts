/**
 * What moto's API Gateway gets wrong for keyrot, corrected as SDK middleware on the
 * functions' API Gateway client (test infrastructure, never product code): on AWS,
 * `DeleteApiKey` also removes the key from its usage plans; moto leaves the usage-plan entry
 * behind, so `GetUsagePlanKeys` would keep listing deleted keys. The middleware drops the
 * entries of keys that no longer exist. And on AWS, `GetUsagePlanKeys` and
 * `CreateUsagePlanKey` on a usage plan that does not exist (deleted meanwhile) answer
 * `NotFoundException`; moto lists nothing and adds the key to the missing plan.
 *
 * The lookups this needs (`GetUsagePlan`, `GetApiKey`) are the emulator's, not keyrot's: on
 * AWS they do not happen. They go through a client of their own, built from the same
 * endpoint, region and credentials, so that nothing put on keyrot's client later (its pacing,
 * the benchmark's call counter and emulated quotas, injected faults) sees them.
 */
import {
  APIGatewayClient,
  GetApiKeyCommand,
  GetUsagePlanCommand,
  NotFoundException,
} from '@aws-sdk/client-api-gateway';

const PLAN_COMMANDS = ['GetUsagePlanKeysCommand', 'CreateUsagePlanKeyCommand'];

export function correctUsagePlanKeys(client: APIGatewayClient): APIGatewayClient {
  let lookups: APIGatewayClient | undefined;
  // Built on first use, from the client's resolved configuration (providers are accepted).
  const lookup = () =>
    (lookups ??= new APIGatewayClient({
      region: client.config.region,
      endpoint: client.config.endpoint,
      credentials: client.config.credentials,
      requestHandler: client.config.requestHandler,
    }));
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (PLAN_COMMANDS.includes(context.commandName ?? '')) {
        // A plan that does not exist answers NotFoundException, as AWS does for these calls.
        const { usagePlanId } = args.input as { usagePlanId: string };
        await lookup().send(new GetUsagePlanCommand({ usagePlanId }));
      }
      const result = await next(args);
      if (context.commandName !== 'GetUsagePlanKeysCommand') return result;
      const output = result.output as { items?: { id?: string }[] };
      // One lookup per listed key (a plan lists a few): listing every key of the account
      // would cost as much as the fleet is large.
      const exists = await Promise.all(
        (output.items ?? []).map((item) =>
          lookup()
            .send(new GetApiKeyCommand({ apiKey: item.id }))
            .then(
              () => true,
              (error: unknown) => {
                if (error instanceof NotFoundException) return false;
                throw error;
              },
            ),
        ),
      );
      output.items = output.items?.filter((_, i) => exists[i]);
      return result;
    },
    { step: 'initialize', name: 'keyrotUsagePlanKeysAfterDelete' },
  );
  return client;
}
