import {
  type APIGatewayClient,
  ConflictException,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  GetApiKeyCommand,
  NotFoundException,
  paginateGetApiKeys,
  paginateGetUsagePlanKeys,
  TagResourceCommand,
} from '@aws-sdk/client-api-gateway';
import { AwsCallError, ResourceNotFoundError } from '../errors';
import { SecretValue } from '../secret';

/**
 * Tags keyrot puts on every key it creates, and (`managed`, `target`) on a key the operator
 * adopts (`keyrot adopt`, TagResource). `managed` is what the least-privilege roles condition
 * deletes on.
 */
export const KEY_TAGS = {
  managed: 'keyrot:managed',
  target: 'keyrot:target',
  rotation: 'keyrot:rotation',
} as const;

export interface PlanKey {
  readonly id: string;
  readonly name: string;
  readonly fingerprint: string;
}

export interface NamedKey {
  readonly id: string;
  readonly name: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** One API key as `GetApiKey` describes it, without its value. */
export interface KeyDescription {
  readonly id: string;
  readonly name: string;
  readonly enabled: boolean;
  readonly tags: Readonly<Record<string, string>>;
  /** When API Gateway created it (ISO-8601), if it says. */
  readonly createdAt?: string;
}

/** Port over API Gateway's API keys and usage-plan keys. Never returns a raw key value. */
export interface KeyStore {
  /** Keys on the plan; throws {@link ResourceNotFoundError} (`USAGE_PLAN_ID`) for an unknown plan. */
  listPlanKeys(usagePlanId: string): Promise<PlanKey[]>;
  /** Keys whose name is exactly `name`, with their tags. */
  listKeysNamed(name: string): Promise<NamedKey[]>;
  createKey(
    name: string,
    tags: Record<string, string>,
  ): Promise<{ id: string; value: SecretValue }>;
  getKeyValue(keyId: string): Promise<SecretValue>;
  /** Idempotent: a key already on the plan is not an error. */
  addToPlan(usagePlanId: string, keyId: string): Promise<'added' | 'already-present'>;
  /** Idempotent: a key already gone is not an error. */
  deleteKey(keyId: string): Promise<'deleted' | 'absent'>;
  /** The key without its value; undefined if there is no such key. */
  describeKey(keyId: string): Promise<KeyDescription | undefined>;
  /** Adds (or overwrites) tags on the key (TagResource); throws if there is no such key. */
  tagKey(keyId: string, tags: Record<string, string>): Promise<void>;
}

/** The ARN API Gateway's TagResource takes for an API key. */
export const apiKeyArn = (region: string, keyId: string): string =>
  `arn:aws:apigateway:${region}::/apikeys/${keyId}`;

/** {@link KeyStore} on API Gateway. */
export class ApiGatewayKeyStore implements KeyStore {
  constructor(private readonly client: APIGatewayClient) {}

  async listPlanKeys(usagePlanId: string): Promise<PlanKey[]> {
    const keys: PlanKey[] = [];
    try {
      for await (const page of paginateGetUsagePlanKeys(
        { client: this.client, pageSize: 500 },
        { usagePlanId },
      )) {
        for (const item of page.items ?? []) {
          if (!item.id || item.value === undefined) continue;
          keys.push({
            id: item.id,
            name: item.name ?? '',
            fingerprint: new SecretValue(item.value).fingerprint,
          });
        }
      }
    } catch (error) {
      if (error instanceof NotFoundException) {
        throw new ResourceNotFoundError('USAGE_PLAN_ID', usagePlanId, 'no such usage plan');
      }
      throw new AwsCallError('GetUsagePlanKeys', `usage plan ${usagePlanId}`, error);
    }
    return keys;
  }

  async listKeysNamed(name: string): Promise<NamedKey[]> {
    const keys: NamedKey[] = [];
    try {
      // nameQuery is a prefix match: keep exact names only.
      for await (const page of paginateGetApiKeys(
        { client: this.client, pageSize: 500 },
        { nameQuery: name, includeValues: false },
      )) {
        for (const item of page.items ?? []) {
          if (item.id && item.name === name) {
            keys.push({ id: item.id, name: item.name, tags: item.tags ?? {} });
          }
        }
      }
    } catch (error) {
      throw new AwsCallError('GetApiKeys', `keys named ${name}`, error);
    }
    return keys;
  }

  async createKey(name: string, tags: Record<string, string>) {
    try {
      const created = await this.client.send(
        new CreateApiKeyCommand({
          name,
          enabled: true,
          tags,
          description: 'Managed by keyrot: rotated automatically, do not edit.',
        }),
      );
      if (!created.id || !created.value) throw new Error('CreateApiKey returned no id or value');
      return { id: created.id, value: new SecretValue(created.value) };
    } catch (error) {
      throw new AwsCallError('CreateApiKey', `key named ${name}`, error);
    }
  }

  async getKeyValue(keyId: string): Promise<SecretValue> {
    try {
      const key = await this.client.send(
        new GetApiKeyCommand({ apiKey: keyId, includeValue: true }),
      );
      if (!key.value) throw new Error('GetApiKey returned no value');
      return new SecretValue(key.value);
    } catch (error) {
      if (error instanceof NotFoundException) {
        throw new ResourceNotFoundError('newKey.id', keyId, 'API key was deleted');
      }
      throw new AwsCallError('GetApiKey', `key ${keyId}`, error);
    }
  }

  async addToPlan(usagePlanId: string, keyId: string) {
    try {
      await this.client.send(
        new CreateUsagePlanKeyCommand({ usagePlanId, keyId, keyType: 'API_KEY' }),
      );
      return 'added' as const;
    } catch (error) {
      if (error instanceof ConflictException) return 'already-present' as const;
      if (error instanceof NotFoundException) {
        throw new ResourceNotFoundError('USAGE_PLAN_ID', usagePlanId, 'no such usage plan');
      }
      throw new AwsCallError('CreateUsagePlanKey', `usage plan ${usagePlanId}`, error);
    }
  }

  async deleteKey(keyId: string) {
    try {
      await this.client.send(new DeleteApiKeyCommand({ apiKey: keyId }));
      return 'deleted' as const;
    } catch (error) {
      if (error instanceof NotFoundException) return 'absent' as const;
      throw new AwsCallError('DeleteApiKey', `key ${keyId}`, error);
    }
  }

  async describeKey(keyId: string): Promise<KeyDescription | undefined> {
    try {
      const key = await this.client.send(
        new GetApiKeyCommand({ apiKey: keyId, includeValue: false }),
      );
      return {
        id: key.id ?? keyId,
        name: key.name ?? '',
        enabled: key.enabled === true,
        tags: key.tags ?? {},
        ...(key.createdDate && { createdAt: key.createdDate.toISOString() }),
      };
    } catch (error) {
      if (error instanceof NotFoundException) return undefined;
      throw new AwsCallError('GetApiKey', `key ${keyId}`, error);
    }
  }

  async tagKey(keyId: string, tags: Record<string, string>): Promise<void> {
    try {
      const region = await this.client.config.region();
      await this.client.send(
        new TagResourceCommand({ resourceArn: apiKeyArn(region, keyId), tags }),
      );
    } catch (error) {
      if (error instanceof NotFoundException) {
        throw new ResourceNotFoundError('--key-id', keyId, 'no such API key');
      }
      throw new AwsCallError('TagResource', `key ${keyId}`, error);
    }
  }
}
