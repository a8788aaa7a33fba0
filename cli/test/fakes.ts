/** An in-memory {@link LedgerQueries} and a CLI context over it, for the CLI's unit tests. */
import {
  OUTCOMES,
  type CurrentKeyRecord,
  type LedgerQueries,
  type Lock,
  type Outcome,
  type StepRecord,
  type TargetRecord,
  type TargetState,
  type TimeRange,
} from '@keyrot/shared';
import { CliContext } from '../src/context';
import { FakeClock } from '../../test/support/fakes';

export class FakeLedgerQueries implements LedgerQueries {
  readonly steps: StepRecord[] = [];
  readonly registry: TargetRecord[] = [];
  readonly keys: CurrentKeyRecord[] = [];
  readonly locks: Lock[] = [];
  /** Called before each timeline read (to let a test add steps meanwhile). */
  onTimeline?: (rotationId: string) => void;

  async timeline(rotationId: string) {
    this.onTimeline?.(rotationId);
    return this.steps.filter((s) => s.rotationId === rotationId);
  }

  async *targetHistory(target: string, options: { before?: string } = {}) {
    const mine = this.steps
      .filter((s) => s.target === target && (!options.before || s.at < options.before))
      .sort((a, b) => b.at.localeCompare(a.at));
    yield* mine;
  }

  async *outcomes(range: TimeRange, options: { only?: Outcome } = {}) {
    yield* this.steps
      .filter((s) => (OUTCOMES as readonly string[]).includes(s.step))
      .filter((s) => s.at >= range.since && s.at <= range.until)
      .filter((s) => !options.only || s.step === options.only)
      .sort((a, b) => a.at.localeCompare(b.at));
  }

  async targets() {
    return [...this.registry];
  }

  async currentKeys(options: { createdBefore?: string } = {}) {
    return this.keys.filter(
      (k) => !options.createdBefore || k.keyCreatedAt < options.createdBefore,
    );
  }

  async targetState(target: string): Promise<TargetState> {
    const spec = this.registry.find((r) => r.target === target);
    const currentKey = this.keys.find((k) => k.target === target);
    const lock = this.locks.find((l) => l.target === target);
    return {
      target,
      ...(spec && { spec }),
      ...(currentKey && { currentKey }),
      ...(lock && { lock }),
    };
  }
}

/** A CLI context whose ledger is `ledger`, whose clock is fake, and whose output is captured. */
export function fakeContext(
  ledger: LedgerQueries,
  options: { output?: string; targets?: string; clock?: FakeClock } = {},
) {
  const clock = options.clock ?? new FakeClock();
  const written = { out: '', err: '' };
  const ctx = new CliContext(
    {
      output: options.output ?? 'table',
      region: 'eu-west-1',
      ...(options.targets && { targets: options.targets }),
    },
    { out: (t) => (written.out += t), err: (t) => (written.err += t) },
    clock,
    {},
  );
  Object.defineProperty(ctx, 'ledger', { get: () => ledger });
  // Hermetic: not the targets manifest of whatever directory the tests run in.
  if (!options.targets) Object.defineProperty(ctx, 'targetsFile', { value: undefined });
  return { ctx, written, clock };
}
