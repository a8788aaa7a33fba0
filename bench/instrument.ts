/**
 * SDK middleware the benchmark puts on keyrot's clients (through the harness's
 * `decorateClient` hook), never in product code: a call counter and a DynamoDB capacity
 * estimate. The service-side throttling the emulator lacks is harness/quota-sim.ts.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AnyClient } from '@keyrot/shared';

/**
 * A `decorateClient` hook for harness/local-keyrot.ts from middleware that takes any client
 * (the hook's type only promises a `middlewareStack`).
 */
export function decorator(
  decorate: (client: AnyClient, account: 'api' | 'edge') => void,
): <C extends { middlewareStack: unknown }>(client: C, account: 'api' | 'edge') => C {
  return (client, account) => {
    decorate(client as unknown as AnyClient, account);
    return client;
  };
}

/** `client` and `service` of the SDK call, e.g. `APIGatewayClient`, `CreateApiKeyCommand`. */
const serviceOf = (clientName: string | undefined) =>
  (clientName ?? 'Unknown').replace(/Client$/, '');
const operationOf = (commandName: string | undefined) =>
  (commandName ?? 'Unknown').replace(/Command$/, '');

/**
 * Counts the AWS calls keyrot makes, by service and operation. Calls the harness's own
 * simulators make from inside a call (e.g. apigateway-sim's reads) are not keyrot's and are
 * left out.
 */
export class CallCounter {
  readonly counts = new Map<string, number>();
  /** The calls that succeeded (after the SDK's retries): what consumed the services' quotas. */
  readonly accepted = new Map<string, number>();
  private readonly inside = new AsyncLocalStorage<true>();

  attach<C extends AnyClient>(client: C): C {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (this.inside.getStore()) return next(args);
        const key = `${serviceOf(context.clientName)}.${operationOf(context.commandName)}`;
        this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
        const output = await this.inside.run(true, () => next(args));
        this.accepted.set(key, (this.accepted.get(key) ?? 0) + 1);
        return output;
      },
      { step: 'initialize', priority: 'high', name: 'benchCallCounter', override: true },
    );
    return client;
  }

  reset(): void {
    this.counts.clear();
    this.accepted.clear();
  }

  /** `{ service: { operation: count } }`, sorted. */
  byService(divideBy = 1): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const key of [...this.counts.keys()].sort()) {
      const [service, operation] = key.split('.') as [string, string];
      (out[service] ??= {})[operation] = round2(this.counts.get(key)! / divideBy);
    }
    return out;
  }
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** A DynamoDB AttributeValue as the low-level client sends and receives it. */
type AttributeValue = Record<string, unknown>;

/** Size of an item by DynamoDB's rules: attribute names plus values (approximation). */
export function itemBytes(item: Record<string, AttributeValue> | undefined): number {
  if (!item) return 0;
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + valueBytes(value),
    0,
  );
}

function valueBytes(value: AttributeValue): number {
  const [type, v] = Object.entries(value)[0] ?? ['NULL', true];
  switch (type) {
    case 'S':
      return Buffer.byteLength(String(v));
    case 'N':
      return Math.ceil(String(v).replace(/^-|\./g, '').length / 2) + 1;
    case 'B':
      return (v as Uint8Array).length;
    case 'BOOL':
    case 'NULL':
      return 1;
    case 'M':
      return 3 + itemBytes(v as Record<string, AttributeValue>);
    case 'L':
      return 3 + (v as AttributeValue[]).reduce((s, e) => s + 1 + valueBytes(e), 0);
    case 'SS':
      return (v as string[]).reduce((s, e) => s + Buffer.byteLength(e), 0);
    default:
      return JSON.stringify(v).length;
  }
}

const wcu = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));
const rcu = (bytes: number, consistent: boolean) =>
  Math.max(1, Math.ceil(bytes / 4096)) * (consistent ? 1 : 0.5);

interface TransactItem {
  Put?: { Item?: Record<string, AttributeValue> };
  Update?: { Key?: Record<string, AttributeValue>; ExpressionAttributeValues?: object };
  Delete?: { Key?: Record<string, AttributeValue> };
  ConditionCheck?: { Key?: Record<string, AttributeValue> };
}

/**
 * DynamoDB read and write units computed from item sizes with DynamoDB's on-demand rules
 * (moto's `ConsumedCapacity` is a constant, so `ReturnConsumedCapacity` would say nothing):
 * writes 1 WCU per KB of item, transactional 2; strongly consistent reads 1 RCU per 4 KB,
 * eventually consistent half; a Query per 4 KB of the items returned. For an UpdateItem the
 * size of the key and new values stands in for the item's size (the lock item is small).
 */
export class CapacityEstimate {
  readUnits = 0;
  writeUnits = 0;

  attach<C extends AnyClient>(client: C): C {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as Record<string, unknown>;
        const result = await next(args).catch((error: unknown) => {
          // A failed conditional write still consumes its write units.
          this.count(context.commandName ?? '', input, undefined);
          throw error;
        });
        this.count(context.commandName ?? '', input, result.output as Record<string, unknown>);
        return result;
      },
      { step: 'build', priority: 'low', name: 'benchCapacityEstimate', override: true },
    );
    return client;
  }

  private count(
    command: string,
    input: Record<string, unknown>,
    output: Record<string, unknown> | undefined,
  ) {
    const consistent = input.ConsistentRead === true;
    const keyish = (i: { Key?: object; ExpressionAttributeValues?: object }) =>
      itemBytes({ ...(i.Key ?? {}), ...(i.ExpressionAttributeValues ?? {}) } as Record<
        string,
        AttributeValue
      >);
    switch (command) {
      case 'PutItemCommand':
        this.writeUnits += wcu(itemBytes(input.Item as Record<string, AttributeValue>));
        break;
      case 'UpdateItemCommand':
      case 'DeleteItemCommand':
        this.writeUnits += wcu(keyish(input));
        break;
      case 'GetItemCommand':
        this.readUnits += rcu(
          itemBytes(output?.Item as Record<string, AttributeValue>),
          consistent,
        );
        break;
      case 'QueryCommand': {
        const items = (output?.Items ?? []) as Record<string, AttributeValue>[];
        const bytes = items.reduce((s, item) => s + itemBytes(item), 0);
        this.readUnits += rcu(bytes, consistent);
        break;
      }
      case 'TransactWriteItemsCommand':
        for (const item of (input.TransactItems ?? []) as TransactItem[]) {
          if (item.Put) this.writeUnits += 2 * wcu(itemBytes(item.Put.Item));
          else if (item.Update) this.writeUnits += 2 * wcu(keyish(item.Update));
          else if (item.Delete) this.writeUnits += 2 * wcu(keyish(item.Delete));
          else if (item.ConditionCheck) this.readUnits += 2 * rcu(0, true);
        }
        break;
      default:
    }
  }

  reset(): void {
    this.readUnits = 0;
    this.writeUnits = 0;
  }
}
