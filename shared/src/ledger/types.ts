import type { LeaseStore } from '../rotation/lease';
import type { StepOf, StepRecord } from '../rotation/steps';

export interface Lock {
  readonly target: string;
  readonly rotationId: string;
  readonly acquiredAt: string;
  readonly expiresAt: string;
}

/** A key the operator handed to a target (`keyrot adopt`), as the ledger's projection holds it. */
export interface AdoptedKey {
  readonly target: string;
  readonly keyId: string;
  /** The adoption's record id (`adopt_<keyId>`) and time. */
  readonly rotationId: string;
  readonly adoptedAt: string;
}

export type AdoptResult =
  | { readonly status: 'adopted' }
  | { readonly status: 'already-adopted' }
  /** A rotation of the target is in flight: adopting now would race its list of keys. */
  | { readonly status: 'locked'; readonly holder: Lock };

export type BeginResult =
  { readonly status: 'started' } | { readonly status: 'refused'; readonly holder: Lock };

/** Port: the rotation ledger (steps, the per-target lock, the per-rotation lease). */
/**
 * How long a rotation holds its target's lock by default (the issuer's `LOCK_SECONDS`): the
 * longest a rotation may take, from its request to its old key retired.
 */
export const DEFAULT_LOCK_SECONDS = 6 * 3600;

export interface Ledger extends LeaseStore {
  /** Every step of one rotation, in order. */
  timeline(rotationId: string): Promise<StepRecord[]>;
  /** A target's steps across rotations, newest first (at most `limit`). */
  history(target: string, limit?: number): Promise<StepRecord[]>;
  /**
   * Takes the target's lock and records REQUESTED, atomically (I2). If another rotation holds
   * an unexpired lock, records REFUSED for this one instead.
   */
  begin(requested: StepOf<'REQUESTED'>, lockSeconds: number): Promise<BeginResult>;
  /** Appends a step; false when it was already recorded (a redelivery). */
  record(step: StepRecord): Promise<boolean>;
  /** Records the outcome and releases the lock if this rotation still holds it. */
  finish(outcome: StepOf<'COMPLETED'> | StepOf<'FAILED'>): Promise<void>;
  lockOf(target: string): Promise<Lock | undefined>;
  /** Ids of the keys adopted for the target (`keyrot adopt`), whether they still exist or not. */
  adoptedKeys(target: string): Promise<string[]>;
  /**
   * Ids of the keys the ledger vouches are the target's own: its current key (the last
   * completed rotation's new key) and the keys adopted for it. One Query of the target's items.
   */
  ownedKeys(target: string): Promise<string[]>;
}
