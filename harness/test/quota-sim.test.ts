import {
  APIGatewayClient,
  CreateApiKeyCommand,
  GetApiKeysCommand,
  TooManyRequestsException,
} from '@aws-sdk/client-api-gateway';
import { CloudFrontClient, UpdateDistributionCommand } from '@aws-sdk/client-cloudfront';
import { Readable } from 'node:stream';
import { API_GATEWAY_QUOTAS, awsQuotas, QuotaThrottle } from '../quota-sim';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };

/** Answers every request that reaches it with 200 and `body`; counts them. */
function offlineHandler(body: string) {
  const handler = {
    sent: 0,
    handle: async () => {
      handler.sent++;
      return {
        response: { statusCode: 200, headers: {}, body: Readable.from([Buffer.from(body)]) },
      };
    },
  };
  return handler;
}

function apiGateway(maxAttempts = 1) {
  const requestHandler = offlineHandler('{"id":"k"}');
  const client = new APIGatewayClient({
    region: 'us-east-1',
    credentials,
    requestHandler,
    maxAttempts,
  });
  return { client, requestHandler };
}

describe('QuotaThrottle', () => {
  it('lets a burst of CreateApiKey through, then answers 429 TooManyRequestsException', async () => {
    const throttle = new QuotaThrottle(API_GATEWAY_QUOTAS, () => 0);
    const { client, requestHandler } = apiGateway();
    throttle.attach(client, '111111111111');
    for (let i = 0; i < 5; i++) await client.send(new CreateApiKeyCommand({ name: `k${i}` }));
    const error: unknown = await client
      .send(new CreateApiKeyCommand({ name: 'k5' }))
      .catch((e) => e);
    // The SDK's own deserializer built it from the wire answer.
    expect(error).toBeInstanceOf(TooManyRequestsException);
    expect((error as TooManyRequestsException).$metadata.httpStatusCode).toBe(429);
    expect(requestHandler.sent).toBe(5);
    expect(throttle.refusedByOperation()).toEqual({ 'APIGateway.CreateApiKey': 1 });
  });

  it('refills at the quota rate', async () => {
    let now = 0;
    const throttle = new QuotaThrottle(API_GATEWAY_QUOTAS, () => now);
    const { client } = apiGateway();
    throttle.attach(client, '111111111111');
    for (let i = 0; i < 5; i++) await client.send(new CreateApiKeyCommand({ name: `k${i}` }));
    now += 199;
    await expect(client.send(new CreateApiKeyCommand({ name: 'early' }))).rejects.toThrow();
    now += 1;
    await expect(client.send(new CreateApiKeyCommand({ name: 'due' }))).resolves.toBeDefined();
  });

  it('is retried by the SDK as throttling: every attempt is counted', async () => {
    const throttle = new QuotaThrottle(API_GATEWAY_QUOTAS, () => 0);
    const { client, requestHandler } = apiGateway(3);
    throttle.attach(client, '111111111111');
    for (let i = 0; i < 5; i++) await client.send(new CreateApiKeyCommand({ name: `k${i}` }));
    const error = (await client
      .send(new CreateApiKeyCommand({ name: 'k5' }))
      .catch((e: unknown) => e)) as TooManyRequestsException;
    expect(error.$metadata.attempts).toBe(3);
    expect(throttle.refusedCalls()).toBe(3);
    expect(requestHandler.sent).toBe(5);
  });

  it("counts the owner's calls and keyrot's against one total per account", async () => {
    const throttle = new QuotaThrottle(API_GATEWAY_QUOTAS, () => 0);
    const keyrot = apiGateway().client;
    const owner = apiGateway().client;
    const otherAccount = apiGateway().client;
    throttle.attach(keyrot, '111111111111');
    throttle.attach(owner, '111111111111', 'owner');
    throttle.attach(otherAccount, '222222222222', 'owner');
    for (let i = 0; i < 35; i++) await owner.send(new GetApiKeysCommand({}));
    for (let i = 0; i < 5; i++) await keyrot.send(new CreateApiKeyCommand({ name: `k${i}` }));
    // The account's burst of 40 is spent, by both clients together.
    await expect(owner.send(new GetApiKeysCommand({}))).rejects.toBeInstanceOf(
      TooManyRequestsException,
    );
    await expect(keyrot.send(new GetApiKeysCommand({}))).rejects.toBeInstanceOf(
      TooManyRequestsException,
    );
    // Another account has its own.
    await expect(otherAccount.send(new GetApiKeysCommand({}))).resolves.toBeDefined();
    expect(throttle.refusedCalls('owner')).toBe(1);
    expect(throttle.refusedCalls('keyrot')).toBe(1);
    expect(throttle.admitted.get('owner')).toBe(36);
  });

  it('answers a throttled UpdateDistribution as CloudFront does: 400 Throttling', async () => {
    const throttle = new QuotaThrottle(awsQuotas({ perSecond: 0.1, burst: 1 }), () => 0);
    const requestHandler = offlineHandler('<Distribution></Distribution>');
    const client = new CloudFrontClient({
      region: 'us-east-1',
      credentials,
      requestHandler,
      maxAttempts: 1,
    });
    throttle.attach(client, '222222222222');
    const update = () =>
      client.send(
        new UpdateDistributionCommand({
          Id: 'E1',
          IfMatch: 'e',
          DistributionConfig: undefined as never,
        }),
      );
    await update().catch(() => undefined); // the first is admitted (the stub's body is not valid)
    const error = (await update().catch((e: unknown) => e)) as {
      name: string;
      $metadata: { httpStatusCode?: number };
    };
    expect(error.name).toBe('Throttling');
    expect(error.$metadata.httpStatusCode).toBe(400);
    expect(requestHandler.sent).toBe(1);
  });
});
