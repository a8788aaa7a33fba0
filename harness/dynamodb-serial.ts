/**
 * moto's TransactWriteItems snapshots each table it touches and, when a condition fails,
 * puts the snapshot back, erasing every write that other requests made in between (real
 * DynamoDB transactions are serializable). The harness therefore sends one DynamoDB request
 * at a time to moto, from every client it builds: DynamoDB's own isolation, supplied by the
 * test infrastructure. See docs/decisions.md.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

let queue: Promise<unknown> = Promise.resolve();

export function serializeDynamoDb(client: DynamoDBClient): DynamoDBClient {
  client.middlewareStack.add(
    (next) => (args) => {
      const turn = queue.then(() => next(args));
      queue = turn.catch(() => undefined);
      return turn;
    },
    { step: 'finalizeRequest', name: 'keyrotSerializeForMoto' },
  );
  return client;
}
