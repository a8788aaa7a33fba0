/**
 * Compressed time for the chaos tests: a {@link Clock} on which simulated time runs `scale`
 * times faster than real time. The functions, the simulators and the runner all read the
 * same clock, so "CloudFront takes 5 minutes" or "a Lambda run lasts 15 minutes" hold in
 * simulated time while a test takes seconds. Test infrastructure only.
 */
import { performance } from 'node:perf_hooks';
import type { Clock } from '@keyrot/shared';

export class ScaledClock implements Clock {
  private readonly realStart = performance.now();
  private readonly simStart: number;

  constructor(
    /** Simulated milliseconds per real millisecond (1 = real time). */
    readonly scale: number,
    start: Date = new Date(),
  ) {
    if (!(scale >= 1)) throw new Error(`ScaledClock: scale must be at least 1, got ${scale}`);
    this.simStart = start.getTime();
  }

  now(): Date {
    return new Date(this.simStart + (performance.now() - this.realStart) * this.scale);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.toReal(ms)));
  }

  /** Real milliseconds that `ms` of simulated time take. */
  toReal(ms: number): number {
    return Math.max(0, ms / this.scale);
  }
}

/** A small seeded pseudo-random generator (mulberry32): same seed, same propagation delays. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
