import { createHash } from 'node:crypto';
import {
  DescribeSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import { AwsCallError, InvalidInputError, ResourceNotFoundError } from '../errors';
import type { SecretValue } from '../secret';

/**
 * The current-key reference (docs/deploy.md, "Reference the current key from your templates"):
 * one Secrets Manager secret per target in the edge account, which the edge stack creates
 * empty, encrypted with keyrot's edge KMS key. Its `AWSCURRENT` version is the key the edge
 * should send: the edge-updater writes it before it writes the distribution's header, so the
 * user's own templates can take the header from it at deploy time (a CloudFormation dynamic
 * reference, a Terraform data source) and a redeploy sends the current key, never a deleted one.
 */

/** Characters a Secrets Manager secret name may hold (a target name may also hold `:`). */
const SECRET_NAME_CHARACTERS = /^[A-Za-z0-9/_+=.@-]+$/;

/** The secret's name: `keyrot/<stage>/<target name>/current-key`. */
export function currentKeySecretName(stage: string, targetName: string): string {
  const name = `keyrot/${stage}/${targetName}/current-key`;
  if (!SECRET_NAME_CHARACTERS.test(name) || name.length > 512) {
    throw new InvalidInputError(
      'TARGET_NAME',
      `${targetName}: its current-key secret name ${name} may hold letters, digits and /_+=.@- only, at most 512`,
    );
  }
  return name;
}

/**
 * What IAM matches for that secret: Secrets Manager adds `-` and six random characters to a
 * secret's name in its ARN, and `??????` matches exactly those (not a longer name, so not
 * another target's `…/current-key` under a name that starts the same).
 */
export function currentKeySecretArnPattern(
  region: string,
  accountId: string,
  stage: string,
  targetName: string,
): string {
  const name = currentKeySecretName(stage, targetName);
  return `arn:aws:secretsmanager:${region}:${accountId}:secret:${name}-??????`;
}

/**
 * The secret version a rotation writes: the same for every delivery of the rotation's
 * `KeyCreated` (and its retries), so Secrets Manager takes a redelivered write as the same
 * request (`ClientRequestToken`) instead of adding a version. UUID-shaped, from the rotation id.
 */
export function currentKeyVersionId(rotationId: string): string {
  const hex = createHash('sha256').update(`keyrot:current-key:${rotationId}`).digest('hex');
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    hex.slice(12, 16),
    hex.slice(16, 20),
    hex.slice(20, 32),
  ]
    .join('-')
    .toLowerCase();
}

/** Port: the target's current-key reference in the edge account. */
export interface CurrentKeyReference {
  /**
   * Makes `value` the reference's current key (`AWSCURRENT`) as version `versionId`.
   * Idempotent: writing the same version again changes nothing, and a version that exists but
   * is no longer current (a {@link restore} happened) becomes current again.
   */
  put(targetName: string, value: SecretValue, versionId: string): Promise<void>;
  /**
   * Undoes {@link put} of `versionId`: if that version is current, the version it replaced
   * (`AWSPREVIOUS`) becomes current again. `not-current` when `versionId` is not the current
   * version (never written, or already restored); `no-earlier-version` when the reference was
   * empty before (nothing to go back to: it still names the new key). Throws when a call fails.
   */
  restore(targetName: string, versionId: string): Promise<RestoreResult>;
}

export type RestoreResult = 'restored' | 'not-current' | 'no-earlier-version';

const CURRENT = 'AWSCURRENT';
const PREVIOUS = 'AWSPREVIOUS';

/** {@link CurrentKeyReference} on Secrets Manager, for the secrets of one keyrot stage. */
export class SecretsManagerCurrentKey implements CurrentKeyReference {
  constructor(
    private readonly client: SecretsManagerClient,
    private readonly stage: string,
  ) {}

  /** The reference with its own client (callers without a Secrets Manager client: the CLI). */
  static connect(config: SecretsManagerClientConfig, stage: string) {
    const client = new SecretsManagerClient(config);
    return {
      reference: new SecretsManagerCurrentKey(client, stage),
      close: () => client.destroy(),
    };
  }

  async put(targetName: string, value: SecretValue, versionId: string): Promise<void> {
    const secretId = currentKeySecretName(this.stage, targetName);
    const out = await this.call('secretsmanager:PutSecretValue', secretId, () =>
      this.client.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          SecretString: value.reveal(),
          ClientRequestToken: versionId,
        }),
      ),
    );
    // A new version becomes AWSCURRENT. A version that already existed is left as it is: if a
    // restore took AWSCURRENT from it, move the label back.
    if (out.VersionStages?.includes(CURRENT)) return;
    const holder = currentHolder(await this.stages(secretId));
    await this.move(secretId, versionId, holder);
  }

  async restore(targetName: string, versionId: string): Promise<RestoreResult> {
    const secretId = currentKeySecretName(this.stage, targetName);
    const stages = await this.stages(secretId);
    if (!stages[versionId]?.includes(CURRENT)) return 'not-current';
    const previous = Object.entries(stages).find(([, labels]) => labels.includes(PREVIOUS))?.[0];
    if (previous === undefined) return 'no-earlier-version';
    await this.move(secretId, previous, versionId);
    return 'restored';
  }

  /** Version id → staging labels of the secret's versions. */
  private async stages(secretId: string): Promise<Record<string, string[]>> {
    const out = await this.call('secretsmanager:DescribeSecret', secretId, () =>
      this.client.send(new DescribeSecretCommand({ SecretId: secretId })),
    );
    return out.VersionIdsToStages ?? {};
  }

  /** Moves AWSCURRENT to `to` (from `from`; Secrets Manager then labels `from` AWSPREVIOUS). */
  private async move(secretId: string, to: string, from: string | undefined): Promise<void> {
    await this.call('secretsmanager:UpdateSecretVersionStage', secretId, () =>
      this.client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: CURRENT,
          MoveToVersionId: to,
          ...(from !== undefined && from !== to && { RemoveFromVersionId: from }),
        }),
      ),
    );
  }

  private async call<T>(operation: string, secretId: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (error instanceof Error && error.name === 'ResourceNotFoundException') {
        throw new ResourceNotFoundError(
          'TARGET_NAME',
          secretId,
          'no current-key secret: deploy the edge stack with this target in keyrot.targets.yml',
        );
      }
      throw new AwsCallError(operation, secretId, error);
    }
  }
}

function currentHolder(stages: Record<string, string[]>): string | undefined {
  return Object.entries(stages).find(([, labels]) => labels.includes(CURRENT))?.[0];
}
