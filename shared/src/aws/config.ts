import type { AwsCredentialIdentity } from '@smithy/types';
import * as z from 'zod/mini';
import { InvalidInputError } from '../errors';

/** What every SDK v3 client of keyrot is built from. */
export interface AwsClientConfig {
  readonly region: string;
  /** Set only for a local emulator or a VPC endpoint; AWS otherwise. */
  readonly endpoint?: string;
  readonly credentials?: AwsCredentialIdentity;
  /** Adaptive retry absorbs throttling (API Gateway's 5 req/s limits, CloudFront's). */
  readonly retryMode: 'adaptive';
  readonly maxAttempts: number;
}

/** The SDK retry settings of every keyrot client. */
export const AWS_RETRY = { retryMode: 'adaptive', maxAttempts: 5 } as const;

/**
 * Reads region, endpoint and credentials from the environment (`AWS_REGION`,
 * `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`).
 * Without static keys the SDK's default chain (the Lambda role) applies.
 */
export function awsClientConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AwsClientConfig {
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) throw new InvalidInputError('AWS_REGION', 'must be set');
  const endpoint = env.AWS_ENDPOINT_URL;
  if (endpoint !== undefined && !z.url().safeParse(endpoint).success) {
    throw new InvalidInputError('AWS_ENDPOINT_URL', 'must be a URL');
  }
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = env;
  const credentials =
    accessKeyId && secretAccessKey
      ? {
          accessKeyId,
          secretAccessKey,
          ...(env.AWS_SESSION_TOKEN && { sessionToken: env.AWS_SESSION_TOKEN }),
        }
      : undefined;
  return {
    region,
    ...AWS_RETRY,
    ...(endpoint && { endpoint }),
    ...(credentials && { credentials }),
  };
}
