import { AwsCallError } from '@keyrot/shared';

/**
 * The CLI's exit codes. Scripts may rely on them; README.md documents them.
 */
export const EXIT = {
  ok: 0,
  /** A bug: an error the CLI has no class for. */
  internal: 1,
  /** Bad input: an option, a date, an unknown target or rotation, an invalid targets file. */
  usage: 2,
  /** `verify` found drift. */
  drift: 3,
  /** The rotation `rotate --wait` followed failed, was refused, or its request was rejected. */
  rotationFailed: 4,
  /**
   * AWS could not be reached or refused a call (endpoint, credentials, permissions, table);
   * also `verify` when it could not read the edge (never reported as drift).
   */
  aws: 5,
  /** `rotate --wait` gave up before the rotation ended (`--timeout`). */
  timeout: 6,
  /** `doctor` found a check that fails: a rotation would not work as things are. */
  notReady: 7,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * A failure the CLI reports as one line on stderr and an exit code. Each class states its
 * `name` as a literal, as keyrot's errors do (shared/src/errors.ts): a class's own name does
 * not survive minification, should the CLI ever be bundled.
 */
export abstract class CliError extends Error {
  abstract override readonly name: string;
  abstract readonly exitCode: ExitCode;

  protected constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An option or argument is invalid; `field` names it (e.g. `--since`). */
export class UsageError extends CliError {
  override readonly name: string = 'UsageError';
  readonly exitCode = EXIT.usage;
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`${field}: ${problem}`);
  }
}

/** No targets file entry and no ledger record name the target. */
export class UnknownTargetError extends UsageError {
  override readonly name: string = 'UnknownTargetError';
  constructor(name: string, known: readonly string[], where: string) {
    const list = known.length > 0 ? `known: ${known.join(', ')}` : 'no target is known';
    super('--target', `unknown target "${name}": not in ${where} (${list})`);
  }
}

/** The ledger holds no step of the rotation. */
export class UnknownRotationError extends UsageError {
  override readonly name: string = 'UnknownRotationError';
  constructor(rotationId: string, table: string) {
    super('rotationId', `no rotation "${rotationId}" in ledger ${table}`);
  }
}

/** AWS could not be reached, or refused a call; `operation` names the call. */
export class AwsUnavailableError extends CliError {
  override readonly name: string = 'AwsUnavailableError';
  readonly exitCode = EXIT.aws;
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/** The followed rotation ended without completing (failed, refused, rejected). */
export class RotationNotCompletedError extends CliError {
  override readonly name: string = 'RotationNotCompletedError';
  readonly exitCode = EXIT.rotationFailed;
  constructor(rotationId: string, outcome: string, detail: string) {
    super(`rotation ${rotationId} ${outcome}: ${detail}`);
  }
}

/** `--wait` ran out of time; the rotation goes on without the CLI. */
export class WaitTimeoutError extends CliError {
  override readonly name: string = 'WaitTimeoutError';
  readonly exitCode = EXIT.timeout;
  constructor(rotationId: string, seconds: number, lastStep: string) {
    super(
      `rotation ${rotationId} still in progress after ${seconds} s (last step ${lastStep}); ` +
        `follow it with: keyrot ledger show ${rotationId}`,
    );
  }
}

interface SdkError {
  readonly name?: string;
  readonly code?: string;
  readonly message?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

const NETWORK_CODES =
  /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE)$/;

/** The deepest cause of an error (AwsCallError wraps the SDK's). */
function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 5 && current instanceof Error && current.cause; depth++) {
    current = current.cause;
  }
  return current;
}

/**
 * Turns any error into a {@link CliError} with one clear line: the CLI's own as they are,
 * AWS SDK failures by kind (unreachable, no credentials, no region, denied, missing table).
 */
export function toCliError(error: unknown, where: { endpoint?: string; table: string }): CliError {
  if (error instanceof CliError) return error;
  const cause = rootCause(error) as SdkError;
  const operation = error instanceof AwsCallError ? error.message.split(' failed')[0] : undefined;
  const name = cause?.name ?? '';
  const code = cause?.code ?? '';
  const message = cause?.message ?? String(cause);
  const target = where.endpoint ?? 'AWS';
  if (NETWORK_CODES.test(code) || /ECONNREFUSED|ENOTFOUND|socket hang up/.test(message)) {
    return new AwsUnavailableError(`cannot reach ${target}: ${code || message}`, error);
  }
  if (name === 'TimeoutError' || name === 'RequestTimeout') {
    return new AwsUnavailableError(`no answer from ${target} in time`, error);
  }
  if (name === 'CredentialsProviderError' || /credential/i.test(message)) {
    return new AwsUnavailableError(
      `no AWS credentials: pass --profile or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (${oneLine(message)})`,
      error,
    );
  }
  if (/Region is missing/i.test(message)) {
    return new UsageError(
      '--region',
      'not set: pass --region, or set AWS_REGION or a profile region',
    );
  }
  if (name === 'ResourceNotFoundException' && /Query|ledger/.test(operation ?? 'ledger')) {
    return new AwsUnavailableError(`ledger table ${where.table} not found at ${target}`, error);
  }
  if (/AccessDenied|UnrecognizedClient|InvalidClientTokenId|ExpiredToken|Forbidden/.test(name)) {
    return new AwsUnavailableError(
      `AWS refused ${operation ?? 'a call'}: ${name} (${oneLine(message)})`,
      error,
    );
  }
  if (error instanceof AwsCallError || cause?.$metadata) {
    return new AwsUnavailableError(
      `${operation ?? 'AWS call'} failed: ${name || 'Error'}${message ? ` (${oneLine(message)})` : ''}`,
      error,
    );
  }
  return new InternalError(error);
}

/** Anything else: a bug, reported with its name and message. */
export class InternalError extends CliError {
  override readonly name: string = 'InternalError';
  readonly exitCode = EXIT.internal;
  constructor(cause: unknown) {
    const text = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`internal error: ${oneLine(text)}`, { cause });
  }
}

/** Errors are printed on one line. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
