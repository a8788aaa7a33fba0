import { Logger } from '@aws-lambda-powertools/logger';
import { REDACTED, SecretValue } from './secret';

/** Attribute names whose string values are never written, whatever the caller passes. */
const SECRET_NAMES = /^(value|apikey|api_key|x-api-key|key_?value|plaintext|secret|headervalue)$/i;

/**
 * JSON replacer applied to every log line: a {@link SecretValue} prints as `[REDACTED]` by
 * itself, and anything under a secret-looking attribute name (a string, an array, an object)
 * is replaced as well, so a key
 * value cannot reach a log line even if code hands one over by mistake.
 */
export function redactingReplacer(key: string, value: unknown): unknown {
  if (value instanceof SecretValue) return REDACTED;
  if (SECRET_NAMES.test(key) && (typeof value === 'string' || typeof value === 'object')) {
    return value === null ? value : REDACTED;
  }
  return value;
}

export type KeyrotLogger = Logger;

/**
 * The structured JSON logger every keyrot function uses (Powertools Logger with redaction).
 * Log level from `POWERTOOLS_LOG_LEVEL` (default INFO).
 */
export function createLogger(serviceName: string, persistentKeys: Record<string, string> = {}) {
  return new Logger({
    serviceName,
    jsonReplacerFn: redactingReplacer,
    persistentKeys: { component: 'keyrot', ...persistentKeys },
  });
}
