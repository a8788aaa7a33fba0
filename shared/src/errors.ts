/**
 * keyrot's typed failures. Callers branch on the class (or its `name`), never on message
 * text. Each error names the field or resource at fault, and none ever carries a key value.
 *
 * Every class states its `name` as a string literal. The bundles are minified, which renames
 * classes (`AwsCallError` becomes something like `ke`), so `new.target.name` would put that
 * short name in the ledger, `RotationFailed` and the logs; esbuild's `keepNames` would
 * restore it at the cost of a wrapper per function in every bundle. A literal costs a few
 * bytes per class, and shared/test/error-names.test.ts checks that each one survives
 * minification and matches its class.
 */
export abstract class KeyrotError extends Error {
  /** The class's own name, as a literal (see above). */
  abstract override readonly name: string;
  /** Whether retrying the same input later could succeed (throttling, a lock, a race). */
  abstract readonly retryable: boolean;
  /** The input field or configuration variable at fault, when there is one. */
  readonly field?: string;

  protected constructor(message: string, field?: string, options?: { cause?: unknown }) {
    super(message, options);
    if (field !== undefined) this.field = field;
  }
}

/** The event came from an account or source keyrot does not trust. Nothing was changed. */
export class UntrustedEventError extends KeyrotError {
  override readonly name: string = 'UntrustedEventError';
  readonly retryable = false;
  constructor(field: 'account' | 'source' | 'detail-type', expected: string, actual: unknown) {
    super(`untrusted event: ${field} is ${JSON.stringify(actual)}, expected ${expected}`, field);
  }
}

/** The event's detail (or a configuration) failed validation. `field` is its path. */
export class InvalidInputError extends KeyrotError {
  override readonly name: string = 'InvalidInputError';
  readonly retryable = false;
  constructor(field: string, problem: string) {
    super(`invalid ${field}: ${problem}`, field);
  }
}

/** Another rotation holds the target's lock (invariant I2). */
export class RotationInFlightError extends KeyrotError {
  override readonly name: string = 'RotationInFlightError';
  readonly retryable = true;
  constructor(
    readonly target: string,
    readonly holderRotationId: string,
  ) {
    super(`target ${target} is locked by rotation ${holderRotationId}`, 'target');
  }
}

/**
 * Another invocation is acting on this rotation (a concurrent duplicate delivery) for longer
 * than this invocation may wait; retried later, it finds that work done or taken over.
 */
export class RotationBusyError extends KeyrotError {
  override readonly name: string = 'RotationBusyError';
  readonly retryable = true;
  constructor(rotationId: string, holder: string, until: string) {
    super(`rotation ${rotationId} is being worked on by invocation ${holder} until ${until}`);
  }
}

/** A referenced AWS resource does not exist (usage plan, distribution, origin, key). */
export class ResourceNotFoundError extends KeyrotError {
  override readonly name: string = 'ResourceNotFoundError';
  readonly retryable = false;
  constructor(field: string, resource: string, detail?: string) {
    super(`${field} ${resource} not found${detail ? `: ${detail}` : ''}`, field);
  }
}

/** The origin id is not an origin of the distribution. */
export class OriginNotFoundError extends ResourceNotFoundError {
  override readonly name: string = 'OriginNotFoundError';
  constructor(distributionId: string, originId: string) {
    super('ORIGIN_ID', originId, `not an origin of distribution ${distributionId}`);
  }
}

/**
 * The edge sends a key this rotation did not expect to replace: the event is stale (an older
 * rotation replayed) or someone changed the header by hand. The edge is left as it is.
 */
export class EdgeDriftError extends KeyrotError {
  override readonly name: string = 'EdgeDriftError';
  readonly retryable = false;
  constructor(distributionId: string, originId: string, headerName: string, fingerprint: string) {
    super(
      `distribution ${distributionId} origin ${originId} sends ${headerName} with fingerprint ` +
        `${fingerprint}, which is neither a key this rotation supersedes nor its new key`,
      'target.distributionId',
    );
  }
}

/** The decrypted key does not match the fingerprint the issuer announced. */
export class IntegrityError extends KeyrotError {
  override readonly name: string = 'IntegrityError';
  readonly retryable = false;
  constructor(field: string, expected: string, actual: string) {
    super(`${field} fingerprint ${actual} does not match announced ${expected}`, field);
  }
}

/** The distribution did not reach `Deployed` with the new key within the allowed time. */
export class DeploymentTimeoutError extends KeyrotError {
  override readonly name: string = 'DeploymentTimeoutError';
  readonly retryable = true;
  constructor(distributionId: string, waitedSeconds: number) {
    super(
      `distribution ${distributionId} not Deployed after ${waitedSeconds.toFixed(0)} s`,
      'target.distributionId',
    );
  }
}

/** API Gateway did not accept the new key within the readiness timeout. */
export class KeyNotAcceptedError extends KeyrotError {
  override readonly name: string = 'KeyNotAcceptedError';
  readonly retryable = true;
  constructor(url: string, lastStatus: number, waitedSeconds: number) {
    super(
      `new key not accepted by ${url} after ${waitedSeconds.toFixed(0)} s (last HTTP status ${lastStatus})`,
      'HEALTH_CHECK_URL',
    );
  }
}

/** A `RotationFailed`-worthy failure from an AWS call, with the operation named. */
export class AwsCallError extends KeyrotError {
  override readonly name: string = 'AwsCallError';
  readonly retryable: boolean;
  constructor(operation: string, resource: string, cause: unknown) {
    const name = cause instanceof Error ? cause.name : 'Error';
    super(`${operation} on ${resource} failed: ${name}`, undefined, { cause });
    this.retryable = isRetryableAwsError(cause);
  }
}

/**
 * An event could not be put on the bus. `notPublished` is true only when EventBridge
 * certainly refused it; otherwise it may have been delivered and callers must assume it was.
 */
export class PublishError extends KeyrotError {
  override readonly name: string = 'PublishError';
  readonly retryable = true;
  constructor(
    busName: string,
    detailType: string,
    readonly notPublished: boolean,
    cause: unknown,
  ) {
    const name = cause instanceof Error ? cause.name : 'Error';
    super(`PutEvents ${detailType} on bus ${busName} failed: ${name}`, undefined, { cause });
  }
}

/** Throttling and server-side faults are worth retrying; everything else is not. */
export function isRetryableAwsError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const sdk = error as { $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  const status = sdk.$metadata?.httpStatusCode ?? 0;
  return (
    sdk.$retryable !== undefined ||
    status >= 500 ||
    status === 429 ||
    /Throttl|TooManyRequests|RequestLimitExceeded|ProvisionedThroughputExceeded|TransactionConflict/.test(
      error.name,
    )
  );
}

/** A serialisable summary of any error, safe to log, store and emit. */
export interface ErrorSummary {
  readonly name: string;
  readonly message: string;
  readonly field?: string;
  readonly retryable: boolean;
}

export function summarizeError(error: unknown): ErrorSummary {
  if (error instanceof KeyrotError) {
    return {
      name: error.name,
      message: error.message,
      retryable: error.retryable,
      ...(error.field !== undefined && { field: error.field }),
    };
  }
  if (error instanceof Error) {
    return { name: error.name, message: error.message, retryable: isRetryableAwsError(error) };
  }
  return { name: 'Error', message: String(error), retryable: false };
}
