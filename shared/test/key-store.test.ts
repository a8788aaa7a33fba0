import {
  APIGatewayClient,
  ConflictException,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  GetApiKeyCommand,
  GetApiKeysCommand,
  GetUsagePlanKeysCommand,
  NotFoundException,
  TagResourceCommand,
  TooManyRequestsException,
} from '@aws-sdk/client-api-gateway';
import { mockClient } from 'aws-sdk-client-mock';
import {
  ApiGatewayKeyStore,
  AwsCallError,
  fingerprintOf,
  KEY_TAGS,
  ResourceNotFoundError,
  SecretValue,
} from '../src';
import { failureOf } from '../../test/support/fixtures';

const apiGateway = mockClient(APIGatewayClient);

const NAME = 'kloudpepper-api-key';
const PLAN = '0aj0l3';
const VALUE_A = 'KEYSTOREvalueAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const VALUE_B = 'KEYSTOREvalueBBBBBBBBBBBBBBBBBBBBBBBBBBB';

function newStore() {
  return new ApiGatewayKeyStore(
    new APIGatewayClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    }),
  );
}

const notFound = (message: string) =>
  new NotFoundException({ message, $metadata: { httpStatusCode: 404 } });

const tooManyRequests = () =>
  new TooManyRequestsException({
    message: 'Too Many Requests',
    $metadata: { httpStatusCode: 429 },
  });

afterEach(() => {
  apiGateway.reset();
});

describe('ApiGatewayKeyStore', () => {
  describe('tagKey', () => {
    it("tags the key's ARN in the client's region", async () => {
      apiGateway.on(TagResourceCommand).resolves({});

      await newStore().tagKey('k1', { [KEY_TAGS.managed]: 'true', [KEY_TAGS.target]: NAME });

      expect(apiGateway.commandCalls(TagResourceCommand)[0]?.args[0].input).toEqual({
        resourceArn: 'arn:aws:apigateway:eu-west-1::/apikeys/k1',
        tags: { [KEY_TAGS.managed]: 'true', [KEY_TAGS.target]: NAME },
      });
    });

    it('names --key-id when there is no such key', async () => {
      apiGateway.on(TagResourceCommand).rejects(notFound('Invalid API Key identifier'));

      const error = await failureOf(newStore().tagKey('nope', {}));

      expect(error).toBeInstanceOf(ResourceNotFoundError);
      expect((error as Error).message).toBe('--key-id nope not found: no such API key');
    });
  });

  describe('describeKey', () => {
    it('reads the key without its value; undefined when there is none', async () => {
      apiGateway
        .on(GetApiKeyCommand)
        .resolvesOnce({
          id: 'k1',
          name: 'hand-made',
          enabled: true,
          tags: { owner: 'ops' },
          createdDate: new Date('2025-01-02T03:04:05.000Z'),
        })
        .rejectsOnce(notFound('Invalid API Key identifier'));

      await expect(newStore().describeKey('k1')).resolves.toEqual({
        id: 'k1',
        name: 'hand-made',
        enabled: true,
        tags: { owner: 'ops' },
        createdAt: '2025-01-02T03:04:05.000Z',
      });
      expect(apiGateway.commandCalls(GetApiKeyCommand)[0]?.args[0].input).toEqual({
        apiKey: 'k1',
        includeValue: false,
      });
      await expect(newStore().describeKey('k2')).resolves.toBeUndefined();
    });
  });

  describe('listKeysNamed', () => {
    it('keeps only exact names from the prefix match of nameQuery, across pages', async () => {
      apiGateway
        .on(GetApiKeysCommand)
        .resolvesOnce({
          items: [
            { id: 'k1', name: NAME, tags: { [KEY_TAGS.managed]: 'true' } },
            { id: 'k2', name: `${NAME}-staging` },
            { id: 'k3', name: `${NAME}2` },
          ],
          position: 'page-2',
        })
        .resolvesOnce({ items: [{ id: 'k4', name: NAME }, { name: NAME }] });

      const keys = await newStore().listKeysNamed(NAME);

      expect(keys).toEqual([
        { id: 'k1', name: NAME, tags: { [KEY_TAGS.managed]: 'true' } },
        { id: 'k4', name: NAME, tags: {} },
      ]);
      const calls = apiGateway.commandCalls(GetApiKeysCommand);
      expect(calls).toHaveLength(2);
      expect(calls[0]?.args[0].input).toMatchObject({ nameQuery: NAME, includeValues: false });
    });

    it('wraps a failure in an AwsCallError', async () => {
      apiGateway.on(GetApiKeysCommand).rejects(tooManyRequests());

      const error = await failureOf(newStore().listKeysNamed(NAME));

      expect(error).toBeInstanceOf(AwsCallError);
      expect((error as AwsCallError).retryable).toBe(true);
    });
  });

  describe('listPlanKeys', () => {
    it('returns id, name and fingerprint of every key on the plan, never the value', async () => {
      apiGateway.on(GetUsagePlanKeysCommand).resolves({
        items: [
          { id: 'k1', name: NAME, type: 'API_KEY', value: VALUE_A },
          { id: 'p1', name: 'partner-key', type: 'API_KEY', value: VALUE_B },
        ],
      });

      const keys = await newStore().listPlanKeys(PLAN);

      expect(keys).toEqual([
        { id: 'k1', name: NAME, fingerprint: fingerprintOf(VALUE_A) },
        { id: 'p1', name: 'partner-key', fingerprint: fingerprintOf(VALUE_B) },
      ]);
      expect(JSON.stringify(keys)).not.toContain(VALUE_A);
      expect(apiGateway.commandCalls(GetUsagePlanKeysCommand)[0]?.args[0].input).toMatchObject({
        usagePlanId: PLAN,
      });
    });

    it('returns an empty list for an empty plan', async () => {
      apiGateway.on(GetUsagePlanKeysCommand).resolves({ items: [] });

      await expect(newStore().listPlanKeys(PLAN)).resolves.toEqual([]);
    });

    it('names USAGE_PLAN_ID when the plan does not exist', async () => {
      apiGateway.on(GetUsagePlanKeysCommand).rejects(notFound('Invalid Usage Plan ID specified'));

      const error = await failureOf(newStore().listPlanKeys('nope00'));

      expect(error).toBeInstanceOf(ResourceNotFoundError);
      expect((error as ResourceNotFoundError).field).toBe('USAGE_PLAN_ID');
      expect((error as Error).message).toContain('nope00');
    });
  });

  describe('createKey', () => {
    it('creates an enabled key with the tags and returns its value as a SecretValue', async () => {
      apiGateway.on(CreateApiKeyCommand).resolves({ id: 'new1', name: NAME, value: VALUE_A });
      const tags = { [KEY_TAGS.managed]: 'true', [KEY_TAGS.rotation]: 'rot_1' };

      const created = await newStore().createKey(NAME, tags);

      expect(created.id).toBe('new1');
      expect(created.value).toBeInstanceOf(SecretValue);
      expect(created.value.reveal()).toBe(VALUE_A);
      expect(apiGateway.commandCalls(CreateApiKeyCommand)[0]?.args[0].input).toMatchObject({
        name: NAME,
        enabled: true,
        tags,
      });
    });

    it('treats a response without a value as a failure', async () => {
      apiGateway.on(CreateApiKeyCommand).resolves({ id: 'new1', name: NAME });

      await expect(newStore().createKey(NAME, {})).rejects.toBeInstanceOf(AwsCallError);
    });
  });

  describe('getKeyValue', () => {
    it('reads the value of a key as a SecretValue', async () => {
      apiGateway.on(GetApiKeyCommand).resolves({ id: 'k1', value: VALUE_B });

      const value = await newStore().getKeyValue('k1');

      expect(value.reveal()).toBe(VALUE_B);
      expect(apiGateway.commandCalls(GetApiKeyCommand)[0]?.args[0].input).toEqual({
        apiKey: 'k1',
        includeValue: true,
      });
    });

    it('names the key when it was deleted', async () => {
      apiGateway.on(GetApiKeyCommand).rejects(notFound('Invalid API Key identifier specified'));

      const error = await failureOf(newStore().getKeyValue('gone1'));

      expect(error).toBeInstanceOf(ResourceNotFoundError);
      expect((error as ResourceNotFoundError).field).toBe('newKey.id');
    });
  });

  describe('addToPlan', () => {
    it('adds the key to the plan as an API key', async () => {
      apiGateway.on(CreateUsagePlanKeyCommand).resolves({ id: 'k1' });

      await expect(newStore().addToPlan(PLAN, 'k1')).resolves.toBe('added');
      expect(apiGateway.commandCalls(CreateUsagePlanKeyCommand)[0]?.args[0].input).toEqual({
        usagePlanId: PLAN,
        keyId: 'k1',
        keyType: 'API_KEY',
      });
    });

    it('reports a key already on the plan as already-present', async () => {
      apiGateway.on(CreateUsagePlanKeyCommand).rejects(
        new ConflictException({
          message: 'Usage Plan Key already exists',
          $metadata: { httpStatusCode: 409 },
        }),
      );

      await expect(newStore().addToPlan(PLAN, 'k1')).resolves.toBe('already-present');
    });

    it('names USAGE_PLAN_ID when the plan does not exist', async () => {
      apiGateway.on(CreateUsagePlanKeyCommand).rejects(notFound('Invalid Usage Plan ID'));

      const error = await failureOf(newStore().addToPlan('nope00', 'k1'));

      expect(error).toBeInstanceOf(ResourceNotFoundError);
      expect((error as ResourceNotFoundError).field).toBe('USAGE_PLAN_ID');
    });
  });

  describe('deleteKey', () => {
    it('deletes the key', async () => {
      apiGateway.on(DeleteApiKeyCommand).resolves({});

      await expect(newStore().deleteKey('k1')).resolves.toBe('deleted');
      expect(apiGateway.commandCalls(DeleteApiKeyCommand)[0]?.args[0].input).toEqual({
        apiKey: 'k1',
      });
    });

    it('reports a key already gone as absent', async () => {
      apiGateway.on(DeleteApiKeyCommand).rejects(notFound('Invalid API Key identifier'));

      await expect(newStore().deleteKey('k1')).resolves.toBe('absent');
    });

    it('throws a retryable AwsCallError when API Gateway throttles', async () => {
      apiGateway.on(DeleteApiKeyCommand).rejects(tooManyRequests());

      const error = await failureOf(newStore().deleteKey('k1'));

      expect(error).toBeInstanceOf(AwsCallError);
      expect((error as AwsCallError).retryable).toBe(true);
      expect((error as Error).message).toContain('DeleteApiKey');
    });

    it('throws a non-retryable AwsCallError for a refusal', async () => {
      const denied = Object.assign(new Error('not authorized'), {
        name: 'AccessDeniedException',
        $metadata: { httpStatusCode: 403 },
      });
      apiGateway.on(DeleteApiKeyCommand).rejects(denied);

      const error = await failureOf(newStore().deleteKey('k1'));

      expect(error).toBeInstanceOf(AwsCallError);
      expect((error as AwsCallError).retryable).toBe(false);
    });
  });
});
