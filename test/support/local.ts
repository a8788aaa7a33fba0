/**
 * Helpers for integration tests on the local two-account world: one moto server per test
 * file, a fresh world per test, and leak checks over everything a rotation left behind.
 */
import { APIGatewayClient, GetApiKeysCommand } from '@aws-sdk/client-api-gateway';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { clientConfig } from '../../harness/accounts';
import {
  startLocalEnvironment,
  type LocalEnvironment,
  type LocalEnvironmentOptions,
} from '../../harness/local-env';
import { startMoto, type MotoServer } from '../../harness/moto';
import type { LocalWorld } from '../../harness/provision';

export interface MotoFixture {
  moto(): MotoServer;
  /** A freshly provisioned world on the file's moto server; stopped after the test. */
  world(options?: Omit<LocalEnvironmentOptions, 'moto'>): Promise<LocalEnvironment>;
}

/** Starts moto once for the file and gives each test its own freshly reset world. */
export function useMoto(): MotoFixture {
  let moto: MotoServer | undefined;
  const open: LocalEnvironment[] = [];
  beforeAll(async () => {
    moto = await startMoto();
  }, 60_000);
  afterEach(async () => {
    await Promise.all(open.splice(0).map((env) => env.stop()));
  });
  afterAll(async () => {
    await moto?.stop();
  });
  return {
    moto: () => moto!,
    async world(options = {}) {
      const env = await startLocalEnvironment({ ...options, moto: moto! });
      open.push(env);
      return env;
    },
  };
}

/** Values of every API key that exists now in the API account (to look for leaks later). */
export async function currentKeyValues(env: LocalEnvironment): Promise<string[]> {
  const client = new APIGatewayClient(clientConfig(env.world.api.session));
  const out = await client.send(new GetApiKeysCommand({ includeValues: true, limit: 500 }));
  return (out.items ?? []).map((k) => k.value!).filter(Boolean);
}

/**
 * Where any of `values` appears: captured log lines, raw ledger items, event envelopes.
 * Reads the whole ledger table with a Scan: test-only, to see every item there is.
 */
export async function findLeaks(
  env: LocalEnvironment,
  values: readonly string[],
): Promise<string[]> {
  return findLeaksIn(env.world, { logs: env.logs.lines, events: env.runner.events }, values);
}

/** {@link findLeaks} over any world's ledger and the given log lines and events. */
export async function findLeaksIn(
  world: LocalWorld,
  seen: { readonly logs: readonly string[]; readonly events: readonly unknown[] },
  values: readonly string[],
): Promise<string[]> {
  const dynamo = new DynamoDBClient(clientConfig(world.api.session));
  const items = (await dynamo.send(new ScanCommand({ TableName: world.api.ledgerTableName })))
    .Items;
  dynamo.destroy();
  const places: [string, string][] = [
    ...seen.logs.map((line, i): [string, string] => [`log line ${i}`, line]),
    ...(items ?? []).map((item, i): [string, string] => [`ledger item ${i}`, JSON.stringify(item)]),
    ...seen.events.map((e, i): [string, string] => [`event ${i}`, JSON.stringify(e)]),
  ];
  return places
    .filter(([, text]) => values.some((value) => value.length > 0 && text.includes(value)))
    .map(([where]) => where);
}
