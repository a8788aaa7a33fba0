import { createHash } from 'node:crypto';
import { inspect } from 'node:util';

const REDACTED = '[REDACTED]';

/**
 * A key value that cannot be printed by accident: string conversion, JSON and
 * `util.inspect` all yield `[REDACTED]`. Only `reveal()` gives the value, and only the
 * adapters that must hand it to AWS (KMS, CloudFront, Secrets Manager, the readiness probe) call it.
 */
export class SecretValue {
  readonly #value: string;
  /** First 12 hex digits of the SHA-256 of the value: safe to log, store and compare. */
  readonly fingerprint: string;

  constructor(value: string) {
    this.#value = value;
    this.fingerprint = fingerprintOf(value);
  }

  reveal(): string {
    return this.#value;
  }

  equals(other: SecretValue): boolean {
    return this.fingerprint === other.fingerprint && this.#value === other.reveal();
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `SecretValue(${this.fingerprint})`;
  }
}

/** keyrot's key fingerprint: the first 12 hex digits of SHA-256. */
export function fingerprintOf(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 12);
}

export { REDACTED };
