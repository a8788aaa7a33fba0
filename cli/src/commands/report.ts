import type { LedgerQueries } from '@keyrot/shared';
import type { CliContext } from '../context';
import { EXIT, UsageError, type ExitCode } from '../errors';
import { buildReport, rotationFacts, type KeyAtStart, type RotationFacts } from '../report/model';
import { REPORT_FORMATS, renderReport, type ReportFormat } from '../report/render';
import { knownTargets, resolveTarget } from '../targets';
import { DAY_MS, parsePositive } from '../time';
import { rotationsInWindow, timeWindow } from './ledger';

export interface ReportOptions {
  readonly since: string;
  readonly until?: string;
  readonly format: string;
  readonly policyDays: string;
  readonly target?: string;
}

/**
 * `keyrot report`: the compliance report for a window. Reads the window's outcomes (GSI2,
 * one Query per month), each of those rotations' timelines, each target's last completed
 * rotation before the window (GSI1, newest first: the key in use when the window opened), and
 * the keys over the policy now (GSI2 KEYS, one Query).
 */
export async function report(ctx: CliContext, options: ReportOptions): Promise<ExitCode> {
  if (!(REPORT_FORMATS as readonly string[]).includes(options.format)) {
    throw new UsageError(
      '--format',
      `"${options.format}" is not one of ${REPORT_FORMATS.join(', ')}`,
    );
  }
  const policyDays = parsePositive('--policy-days', options.policyDays, 3650);
  const range = timeWindow(ctx, options.since, options.until);
  const generatedAt = ctx.clock.now().toISOString();
  const known = [...(await knownTargets(ctx.targetsFile, ctx.ledger)).keys()];
  if (options.target && !known.includes(options.target)) {
    await resolveTarget(options.target, ctx.targetsFile, ctx.ledger, ctx.table); // throws: unknown
  }
  const targets = options.target ? [options.target] : known;

  let rejectedEvents = 0;
  for await (const outcome of ctx.ledger.outcomes(range, { only: 'REJECTED' })) {
    if (outcome.step === 'REJECTED') rejectedEvents += 1;
  }
  const rotations: RotationFacts[] = [];
  for (const steps of await rotationsInWindow(ctx.ledger, range, [], options.target)) {
    const facts = rotationFacts(steps);
    if (facts && targets.includes(facts.target)) rotations.push(facts);
  }
  for (const r of rotations) if (!targets.includes(r.target)) targets.push(r.target);
  const keysAtStart = new Map<string, KeyAtStart>();
  for (const target of targets) {
    const key = await keyAtStart(ctx.ledger, target, range.since);
    if (key) keysAtStart.set(target, key);
  }
  const cutoff = new Date(Date.parse(generatedAt) - policyDays * DAY_MS).toISOString();
  const currentKeys = (await ctx.ledger.currentKeys({ createdBefore: cutoff })).filter((k) =>
    targets.includes(k.target),
  );
  const model = buildReport({
    ...range,
    generatedAt,
    policyDays,
    targets: [...targets].sort(),
    rotations,
    keysAtStart,
    rejectedEvents: options.target ? 0 : rejectedEvents,
    currentKeys,
  });
  ctx.print(renderReport(model, options.format as ReportFormat));
  return EXIT.ok;
}

/**
 * The key a target used when the window opened: the one its last completed rotation before
 * the window issued (the target's history before `since`, newest first, up to that step).
 */
export async function keyAtStart(
  ledger: LedgerQueries,
  target: string,
  since: string,
): Promise<KeyAtStart | undefined> {
  for await (const step of ledger.targetHistory(target, { before: since })) {
    if (step.step !== 'COMPLETED' || !step.newKey) continue;
    const created = step.keyCreatedAt;
    if (created !== undefined) return { key: step.newKey, createdAt: created };
    const keyCreated = (await ledger.timeline(step.rotationId)).find(
      (s) => s.step === 'KEY_CREATED',
    );
    return { key: step.newKey, createdAt: keyCreated?.at ?? step.at };
  }
  return undefined;
}
