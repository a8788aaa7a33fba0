import Table from 'cli-table3';
import { UsageError } from './errors';

export const OUTPUT_FORMATS = ['table', 'json', 'csv'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export type Cell = string | number | boolean | null | undefined;

/** A column of a result: its header and how a row shows in it. */
export interface Column<R> {
  readonly header: string;
  readonly value: (row: R) => Cell;
}

export function parseOutputFormat(text: string): OutputFormat {
  if ((OUTPUT_FORMATS as readonly string[]).includes(text)) return text as OutputFormat;
  throw new UsageError('--output', `"${text}" is not one of ${OUTPUT_FORMATS.join(', ')}`);
}

const show = (cell: Cell): string => (cell === null || cell === undefined ? '' : String(cell));

/** A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180). */
export function csvField(cell: Cell): string {
  const text = show(cell);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** CSV with a header line; LF line ends, every line terminated. */
export function toCsv(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  return [headers, ...rows].map((row) => `${row.map(csvField).join(',')}\n`).join('');
}

/** Widest a table column grows before its cells wrap. */
const MAX_COLUMN_WIDTH = 72;

/**
 * Wraps text at spaces to lines of at most `width`; a longer word (a JSON document, an ARN)
 * is cut into pieces rather than shortened: a table never drops a character.
 */
export function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const candidate = line === '' ? word : `${line} ${word}`;
    if (candidate.length <= width) {
      line = candidate;
      continue;
    }
    if (line !== '') lines.push(line);
    let rest = word;
    while (rest.length > width) {
      lines.push(rest.slice(0, width));
      rest = rest.slice(width);
    }
    line = rest;
  }
  lines.push(line);
  return lines.join('\n');
}

/** A plain text table (no colours: the output may be a file or a pipe); long cells wrap. */
export function toTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const table = new Table({ head: [...headers], style: { head: [], border: [] } });
  for (const row of rows) table.push(row.map((cell) => wrap(show(cell) || '-', MAX_COLUMN_WIDTH)));
  return `${table.toString()}\n`;
}

/**
 * Renders rows in the chosen format. JSON is the `json` value when given (a command's full
 * result), else the rows as objects keyed by header.
 */
export function render<R>(
  format: OutputFormat,
  columns: readonly Column<R>[],
  rows: readonly R[],
  json?: unknown,
): string {
  const headers = columns.map((c) => c.header);
  const cells = rows.map((row) => columns.map((c) => c.value(row)));
  switch (format) {
    case 'json':
      return `${JSON.stringify(json ?? cells.map((r) => Object.fromEntries(headers.map((h, i) => [h, r[i] ?? null]))), null, 2)}\n`;
    case 'csv':
      return toCsv(headers, cells);
    case 'table':
      return toTable(headers, cells);
  }
}

/**
 * A JSON text with object keys in a stable order (the order of `first`, then the rest sorted),
 * so the same record always prints the same line: what an auditor diffs.
 */
export function stableJson(value: unknown, first: readonly string[] = []): string {
  return JSON.stringify(ordered(value, first));
}

function ordered(value: unknown, first: readonly string[]): unknown {
  if (Array.isArray(value)) return value.map((v) => ordered(v, []));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  const rank = (key: string) => {
    const index = first.indexOf(key);
    return index === -1 ? first.length : index;
  };
  entries.sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([k, v]) => [k, ordered(v, [])]));
}
