/**
 * EventBridge event-pattern matching, for the local runner: exact values, `prefix`,
 * `exists` and `anything-but`, nested objects. moto implements patterns for its own rules
 * but not `TestEventPattern`, and cannot deliver across accounts with the sender's
 * `account` (docs/decisions.md), so the runner matches the serverless.yml patterns itself.
 */
export type EventPattern = { readonly [field: string]: EventPattern | readonly Matcher[] };
type Matcher =
  | string
  | number
  | boolean
  | null
  | { readonly prefix: string }
  | { readonly exists: boolean }
  | { readonly 'anything-but': string | readonly string[] };

export function matchesPattern(pattern: EventPattern, event: unknown): boolean {
  return Object.entries(pattern).every(([field, rule]) => {
    const value = isRecord(event) ? event[field] : undefined;
    if (Array.isArray(rule)) return (rule as readonly Matcher[]).some((m) => matchValue(m, value));
    return isRecord(value) && matchesPattern(rule as EventPattern, value);
  });
}

function matchValue(matcher: Matcher, value: unknown): boolean {
  if (Array.isArray(value)) return value.some((v) => matchValue(matcher, v));
  if (matcher === null || typeof matcher !== 'object') return value === matcher;
  if ('exists' in matcher) return (value !== undefined) === matcher.exists;
  if (value === undefined) return false;
  if ('prefix' in matcher) return typeof value === 'string' && value.startsWith(matcher.prefix);
  const excluded = matcher['anything-but'];
  return !(Array.isArray(excluded) ? excluded : [excluded]).includes(value as string);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
