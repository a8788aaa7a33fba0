/**
 * Shared test data (accounts, the seed's target, EventBridge envelopes, Lambda contexts) and
 * small assertion helpers.
 */
import {
  rotationContext,
  ROTATION_FAILED_VERSION,
  SecretValue,
  type Actor,
  type EdgeUpdated,
  type KeyCreated,
  type KeyRef,
  type KeySealer,
  type RotationFailed,
  type Target,
} from '@keyrot/shared';
import type { Context } from 'aws-lambda';

export const API_ACCOUNT = '111111111111';
export const EDGE_ACCOUNT = '222222222222';
export const OTHER_ACCOUNT = '333333333333';

export const EDGE_KMS_KEY_ARN =
  'arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/** The seed's flat scheduler input, exactly as the existing schedule sends it. */
export const SEED_INPUT = {
  API_KEY_NAME: 'kloudpepper-api-key',
  DISTRIBUTION_ID: 'E1MTSB8DGIOBI2',
  ORIGIN_ID: 'api-gateway-origin',
  USAGE_PLAN_ID: '0aj0l3',
} as const;

export const TARGET: Target = {
  name: 'kloudpepper-api-key',
  apiKeyName: 'kloudpepper-api-key',
  usagePlanId: '0aj0l3',
  distributionId: 'E1MTSB8DGIOBI2',
  originId: 'api-gateway-origin',
  headerName: 'x-api-key',
};

export const ROTATION_ID = 'rot_20261125T090000Z_test0001';

export function actor(account: string, fn = 'test-function'): Actor {
  return { function: fn, account };
}

export const keyRef = (key: { id: string; fingerprint: string }): KeyRef => ({
  id: key.id,
  fingerprint: key.fingerprint,
});

let envelopeCounter = 0;

/** An EventBridge event as a Lambda target receives it. */
export function envelope(
  detailType: string,
  detail: unknown,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  envelopeCounter += 1;
  return {
    version: '0',
    // Like EventBridge's random UUIDs, ids differ from their first characters on.
    id: `${envelopeCounter.toString(16).padStart(8, '0')}-6f8d-4000-8000-1c2e3f4a5b6c`,
    'detail-type': detailType,
    source: 'keyrot',
    account: API_ACCOUNT,
    time: '2026-11-25T09:00:00Z',
    region: 'eu-west-1',
    resources: [],
    detail,
    ...overrides,
  };
}

/** A `KeyCreated` as the issuer would emit it, with `value` sealed for `sealer`. */
export async function keyCreated(
  sealer: KeySealer,
  options: {
    value: string;
    newKeyId?: string;
    superseded?: readonly KeyRef[];
    rotationId?: string;
    target?: Target;
    /** Announce this fingerprint instead of the value's own. */
    announcedFingerprint?: string;
  },
): Promise<KeyCreated> {
  const rotationId = options.rotationId ?? ROTATION_ID;
  const target = options.target ?? TARGET;
  const newKeyId = options.newKeyId ?? 'newkey0001';
  const secret = new SecretValue(options.value);
  return {
    version: 1,
    rotationId,
    target,
    newKey: { id: newKeyId, fingerprint: options.announcedFingerprint ?? secret.fingerprint },
    supersededKeys: [...(options.superseded ?? [])],
    encryptedValue: await sealer.seal(
      EDGE_KMS_KEY_ARN,
      secret,
      rotationContext(rotationId, target.name, newKeyId),
    ),
    kmsKeyArn: EDGE_KMS_KEY_ARN,
    issuedAt: '2026-11-25T09:00:00.000Z',
  };
}

export function edgeUpdated(options: {
  newKey: KeyRef;
  previousFingerprint: string | null;
  deployedAt: string;
  rotationId?: string;
  target?: Target;
}): EdgeUpdated {
  return {
    version: 1,
    rotationId: options.rotationId ?? ROTATION_ID,
    target: options.target ?? TARGET,
    newKey: options.newKey,
    previousFingerprint: options.previousFingerprint,
    updatedAt: options.deployedAt,
    deployedAt: options.deployedAt,
    actor: actor(EDGE_ACCOUNT, 'keyrot-edge-updater'),
  };
}

export function rotationFailed(options: {
  newKeyMayBeAtEdge: boolean;
  newKey?: KeyRef;
  stage?: RotationFailed['stage'];
  rotationId?: string;
}): RotationFailed {
  return {
    version: ROTATION_FAILED_VERSION,
    rotationId: options.rotationId ?? ROTATION_ID,
    target: TARGET,
    stage: options.stage ?? 'edge',
    error: {
      name: 'DeploymentTimeoutError',
      message: 'not Deployed',
      field: 'target.distributionId',
      retryable: true,
    },
    ...(options.newKey && { newKey: options.newKey }),
    newKeyMayBeAtEdge: options.newKeyMayBeAtEdge,
    rolledBack: false,
    failedAt: '2026-11-25T09:30:00.000Z',
    actor: actor(EDGE_ACCOUNT, 'keyrot-edge-updater'),
  };
}

/** A Lambda context with the given time left. */
export function lambdaContext(remainingMs = 900_000, functionName = 'keyrot-test'): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:${API_ACCOUNT}:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: 'req-0001',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The one item of `items`; fails the test unless there is exactly one. */
export function onlyOne<T>(items: readonly T[]): T {
  expect(items).toHaveLength(1);
  return items[0]!;
}

/** The error `promise` rejects with; fails the test if it resolves. */
export async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

/** A copy of `object` without `key`. */
export function omit<T extends object, K extends keyof T>(object: T, key: K): Omit<T, K> {
  return Object.fromEntries(Object.entries(object).filter(([name]) => name !== key)) as Omit<T, K>;
}
