/**
 * `npm run chaos`: runs the traffic tests and the fault matrix (jest project `chaos`, one
 * moto server per test file), then prints one row per case — the fault, the end state read
 * back from the emulated AWS, the requests that went through the edges meanwhile, the checks —
 * and ends with one line:
 *
 *   faults: N run, N passed, 0 failed requests, 0 leaked values
 *
 * "failed requests" counts the cases that must fail none; the negative controls' failures
 * (marked "control") are what proves the harness can see an outage, and the drift guard's
 * heal cases' (marked "until healed": the injected revert is itself an outage, and their
 * checks require the failures to stop once the heal deployed) are shown, not counted. Exit code 1 if any test failed, any request failed or any value leaked.
 *
 *   npm run chaos -- [jest options, e.g. -t crash]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import Table from 'cli-table3';
import type { Row } from '../test/support/chaos';

const root = path.resolve(__dirname, '..');
const reportDir = path.join(root, 'dist', 'chaos');
const jestResults = path.join(reportDir, 'jest.json');

interface JestSummary {
  readonly numTotalTests: number;
  readonly numPassedTests: number;
  readonly numFailedTests: number;
}

function runJest(args: readonly string[]): number {
  rmSync(reportDir, { recursive: true, force: true });
  mkdirSync(reportDir, { recursive: true });
  const jest = path.join(root, 'node_modules', '.bin', 'jest');
  const run = spawnSync(
    jest,
    [
      '--selectProjects',
      'chaos',
      '--maxWorkers=2',
      '--json',
      `--outputFile=${jestResults}`,
      ...args,
    ],
    { cwd: root, stdio: 'inherit', env: { ...process.env, KEYROT_CHAOS_DIR: reportDir } },
  );
  return run.status ?? 1;
}

function readRows(): Row[] {
  return readdirSync(reportDir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort((a, b) => order(a) - order(b) || a.localeCompare(b))
    .flatMap((f) =>
      readFileSync(path.join(reportDir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Row),
    );
}

/** Traffic first, then the matrix files in a stable order. */
function order(file: string): number {
  return file.startsWith('traffic') ? 0 : 1;
}

function main(): number {
  const jestStatus = runJest(process.argv.slice(2));
  const rows = readRows();
  const summary: JestSummary | undefined = existsSync(jestResults)
    ? (JSON.parse(readFileSync(jestResults, 'utf8')) as JestSummary)
    : undefined;

  const table = new Table({
    head: ['#', 'group', 'fault', 'end state', 'failed/sent', 'checks', 'result'],
    colWidths: [4, 20, 50, 50, 13, 8, 8],
    wordWrap: true,
    style: { head: [], border: [] },
    // One line between rows would double the table's length: none.
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  rows.forEach((row, i) => {
    const checksOk = row.checks.filter((c) => c.ok).length;
    table.push([
      String(i + 1),
      row.group,
      row.fault,
      row.endState,
      row.requests
        ? `${row.requests.failed}/${row.requests.sent}${row.control ? ' control' : row.untilHealed ? ' until healed' : ''}`
        : 'n/a',
      `${checksOk}/${row.checks.length}`,
      row.passed ? 'pass' : 'FAIL',
    ]);
  });
  process.stdout.write(`${table.toString()}\n`);
  for (const row of rows.filter((r) => !r.passed)) {
    const failed = row.checks.filter((c) => !c.ok);
    process.stdout.write(
      `FAIL ${row.id}: ${failed.map((c) => `${c.name}${c.detail ? ` (${c.detail})` : ''}`).join('; ')}\n`,
    );
  }

  const run = summary?.numTotalTests ?? rows.length;
  const passed = summary?.numPassedTests ?? rows.filter((r) => r.passed).length;
  const failedRequests = rows
    .filter((r) => !r.control && !r.untilHealed)
    .reduce((sum, r) => sum + (r.requests?.failed ?? 0), 0);
  const leaked = rows.reduce((sum, r) => sum + r.leaks, 0);
  if (rows.length !== run) {
    process.stdout.write(`note: ${run} tests ran, ${rows.length} recorded a row\n`);
  }
  process.stdout.write(
    `faults: ${run} run, ${passed} passed, ${failedRequests} failed requests, ${leaked} leaked values\n`,
  );
  return jestStatus !== 0 || passed !== run || failedRequests > 0 || leaked > 0 ? 1 : 0;
}

process.exitCode = main();
