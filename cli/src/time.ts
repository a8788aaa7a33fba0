import { UsageError } from './errors';

export const DAY_MS = 86_400_000;

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * A date option: `YYYY-MM-DD` (midnight UTC) or an ISO-8601 time with its offset. Anything
 * else, or a day that does not exist (2026-02-30), is a {@link UsageError} naming the option.
 */
export function parseDate(option: string, text: string): Date {
  const day = DATE_ONLY.exec(text);
  if (day) {
    const [, y, m, d] = day.map(Number) as [number, number, number, number];
    const date = new Date(Date.UTC(y, m - 1, d));
    if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) {
      throw new UsageError(option, `"${text}" is not a day of the calendar`);
    }
    return date;
  }
  if (ISO_TIME.test(text)) {
    const date = new Date(text);
    const [y, m, d] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
    const valid = !Number.isNaN(date.getTime()) && m >= 1 && m <= 12 && d >= 1 && d <= 31;
    if (valid && new Date(Date.UTC(y, m - 1, d)).getUTCDate() === d) return date;
  }
  throw new UsageError(
    option,
    `"${text}" is not a date: use YYYY-MM-DD or an ISO-8601 time such as 2026-11-01T00:00:00Z`,
  );
}

/** A positive number of seconds or days; an error names the option. */
export function parsePositive(option: string, text: string, max: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0 || value > max) {
    throw new UsageError(option, `"${text}" must be a number greater than 0 and at most ${max}`);
  }
  return value;
}

/** A positive whole number; an error names the option. */
export function parseCount(option: string, text: string, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > max) {
    throw new UsageError(option, `"${text}" must be a whole number from 1 to ${max}`);
  }
  return value;
}

/**
 * Milliseconds as days with two decimals, rounded up: a key a minute past a 31-day policy
 * reads 31.01, never 31.00 beside a "no".
 */
export function days(ms: number): string {
  const hundredths = Math.ceil(Math.round(ms) / (DAY_MS / 100));
  return (hundredths / 100).toFixed(2);
}

/** Milliseconds as seconds with three decimals (the ledger's precision). */
export const seconds = (ms: number): string => (ms / 1000).toFixed(3);
