import { DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { AwsCallError } from '../errors';
import { SecretValue } from '../secret';

/** KMS encryption context that binds a sealed key value to one rotation and key. */
export function rotationContext(rotationId: string, targetName: string, keyId: string) {
  return {
    'keyrot:rotationId': rotationId,
    'keyrot:target': targetName,
    'keyrot:keyId': keyId,
  };
}

/** Port: seals a key value for the edge account and opens it there. */
export interface KeySealer {
  seal(keyArn: string, value: SecretValue, context: Record<string, string>): Promise<string>;
  open(keyArn: string, sealed: string, context: Record<string, string>): Promise<SecretValue>;
}

/** {@link KeySealer} on KMS; the ciphertext travels as base64. */
export class KmsKeySealer implements KeySealer {
  constructor(private readonly client: KMSClient) {}

  async seal(keyArn: string, value: SecretValue, context: Record<string, string>) {
    try {
      const out = await this.client.send(
        new EncryptCommand({
          KeyId: keyArn,
          Plaintext: Buffer.from(value.reveal(), 'utf8'),
          EncryptionContext: context,
        }),
      );
      if (!out.CiphertextBlob) throw new Error('Encrypt returned no ciphertext');
      return Buffer.from(out.CiphertextBlob).toString('base64');
    } catch (error) {
      throw new AwsCallError('kms:Encrypt', keyArn, error);
    }
  }

  async open(keyArn: string, sealed: string, context: Record<string, string>) {
    try {
      const out = await this.client.send(
        new DecryptCommand({
          KeyId: keyArn,
          CiphertextBlob: Buffer.from(sealed, 'base64'),
          EncryptionContext: context,
        }),
      );
      if (!out.Plaintext) throw new Error('Decrypt returned no plaintext');
      return new SecretValue(Buffer.from(out.Plaintext).toString('utf8'));
    } catch (error) {
      throw new AwsCallError('kms:Decrypt', keyArn, error);
    }
  }
}
