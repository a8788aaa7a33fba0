import { KeyrotError, type SecretValue, type Target } from '@keyrot/shared';

type EdgeTarget = Pick<Target, 'distributionId' | 'originId' | 'headerName'>;

/** The header as an origin currently sends it: by fingerprint, never by value. */
export interface OriginHeader {
  readonly etag: string;
  /** null when the origin sends no such header. */
  readonly fingerprint: string | null;
}

/** Port over the distribution's configuration and deployment state. */
export interface EdgeConfigStore {
  /** Reads the config; throws OriginNotFoundError / ResourceNotFoundError (DISTRIBUTION_ID). */
  readHeader(target: EdgeTarget): Promise<OriginHeader>;
  /**
   * Sets (or adds) the header on that origin only, on the config read with `etag`; throws
   * {@link EdgeConfigChangedError} if the distribution changed since.
   */
  writeHeader(target: EdgeTarget, etag: string, value: SecretValue): Promise<void>;
  /** Whether every edge location has the config, and the header it holds. */
  deployment(target: EdgeTarget): Promise<{ deployed: boolean; fingerprint: string | null }>;
}

/** The distribution changed between read and write (`PreconditionFailed` on `IfMatch`). */
export class EdgeConfigChangedError extends KeyrotError {
  override readonly name: string = 'EdgeConfigChangedError';
  readonly retryable = true;
  constructor(distributionId: string) {
    super(`distribution ${distributionId} changed since it was read (ETag)`, 'IfMatch');
  }
}
