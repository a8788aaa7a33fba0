import { toCsv, type Cell } from '../output';
import { days, seconds } from '../time';
import type { ComplianceReport, KeyLife, PeriodStats, RotationFacts, TargetReport } from './model';

export const REPORT_FORMATS = ['md', 'html', 'csv'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

const maybe = (value: number | null, format: (v: number) => string) =>
  value === null ? '' : format(value);
const age = (s: Pick<PeriodStats, 'maxKeyAgeMs' | 'maxKeyAgeLowerBound'>) =>
  `${s.maxKeyAgeLowerBound ? '≥' : ''}${days(s.maxKeyAgeMs)}`;
const yesNo = (value: boolean) => (value ? 'yes' : 'no');
const reasons = (s: PeriodStats) =>
  s.failureReasons.map((r) => `${r.reason}: ${r.count}`).join('; ');

export const CSV_COLUMNS = [
  'target',
  'month',
  'completed',
  'failed',
  'refused',
  'mean_duration_s',
  'p95_duration_s',
  'max_key_age_days',
  'max_key_age_lower_bound',
  'policy_days',
  'compliant',
  'failure_reasons',
] as const;

/**
 * CSV, one row per target and month of the window, then the target's whole window
 * (`month` = `all`): tidy rows a spreadsheet pivots as it likes.
 */
export function renderCsv(report: ComplianceReport): string {
  const row = (target: string, month: string, s: PeriodStats): Cell[] => [
    target,
    month,
    s.completed,
    s.failed,
    s.refused,
    maybe(s.meanDurationMs, seconds),
    maybe(s.p95DurationMs, seconds),
    days(s.maxKeyAgeMs),
    s.maxKeyAgeLowerBound,
    report.policyDays,
    yesNo(s.compliant),
    reasons(s),
  ];
  const rows = report.targets.flatMap((t) => [
    ...t.months.map((m) => row(t.target, m.month, m)),
    row(t.target, 'all', t),
  ]);
  return toCsv(CSV_COLUMNS, rows);
}

/** A Markdown table; `|` and line breaks in cells are escaped. */
function mdTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const cell = (c: Cell) =>
    (c === null || c === undefined || c === '' ? '-' : String(c))
      .replace(/\|/g, '\\|')
      .replace(/\r?\n/g, ' ');
  const line = (cells: readonly Cell[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The report's tables: the same content in Markdown and HTML. */
function sections(report: ComplianceReport) {
  const policy = `${report.policyDays} days`;
  return {
    summary: {
      headers: [
        'target',
        'max key age (days)',
        'policy',
        'compliant',
        'completed',
        'failed',
        'refused',
        'mean duration (s)',
        'p95 duration (s)',
      ],
      rows: report.targets.map((t) => [
        t.target,
        age(t),
        policy,
        yesNo(t.compliant),
        t.completed,
        t.failed,
        t.refused,
        maybe(t.meanDurationMs, seconds),
        maybe(t.p95DurationMs, seconds),
      ]),
    },
    months: {
      headers: [
        'target',
        'month',
        'completed',
        'failed',
        'refused',
        'max key age (days)',
        'compliant',
      ],
      rows: report.targets.flatMap((t) =>
        t.months.map((m) => [
          t.target,
          m.month,
          m.completed,
          m.failed,
          m.refused,
          age(m),
          yesNo(m.compliant),
        ]),
      ),
    },
    failures: {
      headers: ['target', 'rotation', 'failed at', 'stage', 'error', 'field', 'message'],
      rows: report.targets.flatMap((t) =>
        t.failures.map((f) => [
          t.target,
          f.rotationId,
          f.endedAt,
          f.stage,
          f.error?.name,
          f.error?.field,
          f.error?.message,
        ]),
      ),
    },
    keys: {
      headers: [
        'target',
        'key id',
        'fingerprint',
        'created',
        'in use from',
        'in use until',
        'max age (days)',
      ],
      rows: report.targets.flatMap((t) =>
        t.keys.map((k) => [
          t.target,
          k.key?.id ?? 'unknown (before keyrot)',
          k.key?.fingerprint,
          k.createdAt ?? 'unknown',
          k.from,
          k.until,
          age({ maxKeyAgeMs: k.maxAgeMs, maxKeyAgeLowerBound: k.lowerBound }),
        ]),
      ),
    },
    overPolicy: {
      headers: ['target', 'key id', 'fingerprint', 'created', 'age (days)'],
      rows: report.overPolicyNow.map((k) => [
        k.target,
        k.key.id,
        k.key.fingerprint,
        k.keyCreatedAt,
        days(k.ageMs),
      ]),
    },
  };
}

const NOTES = [
  'Rotations count in the month they ended. Durations run from the request to completion, for completed rotations; p95 is the nearest-rank 95th percentile.',
  "A key's age runs from its creation to its deletion by the next rotation (or the window's end), in days rounded up; ≥ marks a key created before keyrot's ledger knew it, counted from the start of the window (a lower bound).",
];

export function renderMarkdown(report: ComplianceReport): string {
  const s = sections(report);
  const compliant = report.targets.every((t) => t.compliant);
  return [
    '# keyrot compliance report',
    '',
    `Window: ${report.since} to ${report.until}. Policy: key age at most ${report.policyDays} days. Generated ${report.generatedAt}.`,
    '',
    `Overall: ${report.targets.length === 0 ? 'no target known' : compliant ? 'every target within policy' : 'NOT every target within policy'}. Rejected events: ${report.rejectedEvents}.`,
    '',
    '## Targets',
    '',
    mdTable(s.summary.headers, s.summary.rows),
    '',
    '## Rotations per month',
    '',
    mdTable(s.months.headers, s.months.rows),
    '',
    '## Failures',
    '',
    s.failures.rows.length > 0 ? mdTable(s.failures.headers, s.failures.rows) : 'None.',
    '',
    '## Keys in the window',
    '',
    mdTable(s.keys.headers, s.keys.rows),
    '',
    '## Keys over policy now',
    '',
    s.overPolicy.rows.length > 0 ? mdTable(s.overPolicy.headers, s.overPolicy.rows) : 'None.',
    '',
    ...NOTES.map((n) => `_${n}_`).flatMap((n) => [n, '']),
  ].join('\n');
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function htmlTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  if (rows.length === 0) return '<p>None.</p>';
  const cell = (c: Cell) => escapeHtml(c === null || c === undefined || c === '' ? '-' : String(c));
  return [
    '<table>',
    `<thead><tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>`,
    '<tbody>',
    ...rows.map((r) => `<tr>${r.map((c) => `<td>${cell(c)}</td>`).join('')}</tr>`),
    '</tbody>',
    '</table>',
  ].join('\n');
}

const COLOURS = {
  ok: '#2e7d32',
  over: '#c62828',
  unknown: '#9e9e9e',
  failed: '#c62828',
  refused: '#ef6c00',
  grid: '#d0d0d0',
  text: '#222222',
} as const;

/**
 * The timeline: one row per target; each key's time in service as a bar (green within the
 * policy, red beyond it, grey when its creation is unknown), each rotation as a mark at its
 * end (● completed, ✕ failed, ◆ refused), and a line at each month's start. Inline SVG only.
 */
export function timelineSvg(report: ComplianceReport): string {
  const left = 190;
  const width = 960;
  const rowHeight = 44;
  const top = 30;
  const height = top + Math.max(1, report.targets.length) * rowHeight + 20;
  const t0 = Date.parse(report.since);
  const span = Math.max(1, Date.parse(report.until) - t0);
  const x = (iso: string) =>
    (left + ((Date.parse(iso) - t0) / span) * (width - left - 10)).toFixed(1);
  const policyMs = report.policyDays * 86_400_000;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Key and rotation timeline" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  ];
  for (const month of monthStarts(report.since, report.until)) {
    const mx = x(month);
    parts.push(
      `<line x1="${mx}" y1="${top - 8}" x2="${mx}" y2="${height - 12}" stroke="${COLOURS.grid}"/>`,
      `<text x="${mx}" y="${top - 12}" fill="${COLOURS.text}">${month.slice(0, 7)}</text>`,
    );
  }
  report.targets.forEach((t, i) => {
    const y = top + i * rowHeight;
    parts.push(`<text x="4" y="${y + 22}" fill="${COLOURS.text}">${escapeHtml(t.target)}</text>`);
    for (const life of t.keys) parts.push(keyBar(life, x, y, policyMs));
    // Failures and refusals on top: a completion a minute later must not hide them.
    const marks = [...t.rotations].sort(
      (a, b) => Number(b.outcome === 'COMPLETED') - Number(a.outcome === 'COMPLETED'),
    );
    for (const r of marks) parts.push(rotationMark(r, x, y));
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function keyBar(life: KeyLife, x: (iso: string) => string, y: number, policyMs: number): string {
  const colour = life.lowerBound
    ? COLOURS.unknown
    : life.maxAgeMs > policyMs
      ? COLOURS.over
      : COLOURS.ok;
  const x1 = Number(x(life.from));
  const w = Math.max(1, Number(x(life.until)) - x1);
  const label = `${life.key ? `key ${life.key.id} (${life.key.fingerprint})` : 'key created before keyrot'}: ${life.from} to ${life.until}, max age ${life.lowerBound ? '≥' : ''}${days(life.maxAgeMs)} days`;
  return `<rect x="${x1.toFixed(1)}" y="${y + 12}" width="${w.toFixed(1)}" height="14" rx="3" fill="${colour}" fill-opacity="0.75"><title>${escapeHtml(label)}</title></rect>`;
}

function rotationMark(r: RotationFacts, x: (iso: string) => string, y: number): string {
  const cx = x(r.endedAt);
  const cy = y + 19;
  const title = `<title>${escapeHtml(`${r.rotationId} ${r.outcome} at ${r.endedAt}${r.error ? `: ${r.error.name}` : ''}`)}</title>`;
  if (r.outcome === 'COMPLETED') {
    return `<circle cx="${cx}" cy="${cy}" r="5" fill="#ffffff" stroke="${COLOURS.ok}" stroke-width="2">${title}</circle>`;
  }
  if (r.outcome === 'FAILED') {
    return `<path d="M${Number(cx) - 5},${cy - 5} l10,10 m0,-10 l-10,10" stroke="${COLOURS.failed}" stroke-width="3">${title}</path>`;
  }
  return `<path d="M${cx},${cy - 6} l6,6 l-6,6 l-6,-6 z" fill="${COLOURS.refused}">${title}</path>`;
}

/** The first instant of every month inside the window (and the window's start). */
function monthStarts(since: string, until: string): string[] {
  const starts = [since];
  const d = new Date(since);
  let next = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
  while (next.toISOString() < until) {
    starts.push(next.toISOString());
    next = new Date(Date.UTC(next.getUTCFullYear(), next.getUTCMonth() + 1, 1));
  }
  return starts;
}

/** One self-contained page: inline CSS and SVG, no script, no external asset. */
export function renderHtml(report: ComplianceReport): string {
  const s = sections(report);
  const compliant = report.targets.every((t) => t.compliant);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>keyrot compliance report ${escapeHtml(report.since.slice(0, 10))} to ${escapeHtml(report.until.slice(0, 10))}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1100px; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; font-size: 0.9em; }
th { background: #f2f2f2; }
.verdict { font-weight: bold; color: ${compliant ? COLOURS.ok : COLOURS.over}; }
.legend span { margin-right: 1.5em; }
.note { color: #555; font-size: 0.85em; }
</style>
</head>
<body>
<h1>keyrot compliance report</h1>
<p>Window: ${escapeHtml(report.since)} to ${escapeHtml(report.until)}. Policy: key age at most ${report.policyDays} days. Generated ${escapeHtml(report.generatedAt)}.</p>
<p class="verdict">${report.targets.length === 0 ? 'No target known.' : compliant ? 'Every target within policy.' : 'Not every target within policy.'} Rejected events: ${report.rejectedEvents}.</p>
<h2>Timeline</h2>
${timelineSvg(report)}
<p class="legend"><span style="color:${COLOURS.ok}">■ key within policy</span><span style="color:${COLOURS.over}">■ key over policy</span><span style="color:${COLOURS.unknown}">■ key created before keyrot</span><span>● completed</span><span style="color:${COLOURS.failed}">✕ failed</span><span style="color:${COLOURS.refused}">◆ refused</span></p>
<h2>Targets</h2>
${htmlTable(s.summary.headers, s.summary.rows)}
<h2>Rotations per month</h2>
${htmlTable(s.months.headers, s.months.rows)}
<h2>Failures</h2>
${htmlTable(s.failures.headers, s.failures.rows)}
<h2>Keys in the window</h2>
${htmlTable(s.keys.headers, s.keys.rows)}
<h2>Keys over policy now</h2>
${htmlTable(s.overPolicy.headers, s.overPolicy.rows)}
${NOTES.map((n) => `<p class="note">${escapeHtml(n)}</p>`).join('\n')}
</body>
</html>
`;
}

export function renderReport(report: ComplianceReport, format: ReportFormat): string {
  switch (format) {
    case 'md':
      return renderMarkdown(report);
    case 'html':
      return renderHtml(report);
    case 'csv':
      return renderCsv(report);
  }
}

export type { TargetReport };
