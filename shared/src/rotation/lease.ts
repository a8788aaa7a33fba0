import { randomUUID } from 'node:crypto';
import { RotationBusyError, summarizeError } from '../errors';
import type { KeyrotLogger } from '../log';
import type { Clock } from '../runtime';

/**
 * The right of one invocation to act on a rotation in the API account. Every side
 * effect that must happen once (create the key, announce it, roll it back, delete the
 * superseded keys, close the rotation, announce `KeyRetired`) is made by the holder only, so
 * of concurrent duplicate deliveries exactly one acts (I3). One item per rotation in the ledger.
 *
 * `expiresAt` lies past the holder's own end (Lambda stops an invocation at its timeout), so
 * an expired lease means its holder is gone: a redelivery after a crash takes it over and
 * resumes. A holder that fails with an error hands it over at once (`interrupted`).
 */
export interface Lease {
  readonly rotationId: string;
  readonly target: string;
  /** The invocation holding it (the Lambda request id). */
  readonly owner: string;
  readonly expiresAt: string;
}

export type ClaimResult =
  /** `takenOver`: a run that died or failed held it before; it may have stopped anywhere. */
  | { readonly status: 'claimed'; readonly takenOver: boolean }
  /** Another invocation holds it now. */
  | { readonly status: 'held'; readonly holder: Lease };

/** Port: the ledger's leases (DynamoDbLedger implements it with conditional writes). */
export interface LeaseStore {
  /**
   * Takes `lease` with one conditional write: when no one holds it, when `lease.owner` does,
   * or when the holder's lease expired before `now` or was handed over. Else writes nothing.
   */
  claim(lease: Lease, now: string): Promise<ClaimResult>;
  /** Ends the lease, if `lease.owner` still holds it: the run ended, its work is recorded. */
  release(lease: Lease): Promise<void>;
  /** Hands the lease over (the run failed mid-way): the next claim takes it at once. */
  interrupt(lease: Lease): Promise<void>;
}

/** One invocation: its id and when Lambda ends it. */
export interface Invocation {
  readonly id: string;
  /** Epoch milliseconds at which the invocation's time is up. */
  readonly endsAt: number;
}

/**
 * Margin past the holder's end before its lease expires: Lambda's clocks are synchronised
 * (NTP) well within it.
 */
export const LEASE_MARGIN_MS = 30_000;
/** Longest pause between two claims while another invocation holds the lease. */
const MAX_POLL_MS = 5_000;
/** Time a waiting invocation keeps to end cleanly. */
const RESERVE_MS = 5_000;

/** The invocation of a Lambda context (without one: a run of `fallbackMs`, e.g. in tests). */
export function invocationOf(
  clock: Clock,
  context?: { awsRequestId?: string; getRemainingTimeInMillis?: () => number },
  fallbackMs = 900_000,
): Invocation {
  const remaining = context?.getRemainingTimeInMillis?.() ?? fallbackMs;
  return {
    id: context?.awsRequestId ?? `local-${randomUUID()}`,
    endsAt: clock.now().getTime() + remaining,
  };
}

export interface LeaseDeps {
  readonly ledger: LeaseStore;
  readonly clock: Clock;
  readonly log: KeyrotLogger;
  readonly invocation: Invocation;
}

/**
 * Runs `act` holding the rotation's lease. While another invocation holds it (a concurrent
 * duplicate), waits for it to end, then claims it: a duplicate acts only after the original
 * has recorded what it did, so it finds that work done. If the lease outlasts this
 * invocation, throws {@link RotationBusyError} (retryable: Lambda delivers again later).
 * On success the lease is released; on an error it is handed over, so the retry resumes.
 */
export async function withLease<T>(
  about: { readonly rotationId: string; readonly target: string },
  deps: LeaseDeps,
  act: (takenOver: boolean) => Promise<T>,
): Promise<T> {
  const { clock, ledger, invocation } = deps;
  const lease: Lease = {
    ...about,
    owner: invocation.id,
    expiresAt: new Date(invocation.endsAt + LEASE_MARGIN_MS).toISOString(),
  };
  let pause = 250;
  let claim = await ledger.claim(lease, clock.now().toISOString());
  while (claim.status === 'held') {
    const heldUntil = Date.parse(claim.holder.expiresAt);
    const now = clock.now().getTime();
    if (now + pause > invocation.endsAt - RESERVE_MS) {
      throw new RotationBusyError(about.rotationId, claim.holder.owner, claim.holder.expiresAt);
    }
    deps.log.info('another invocation is acting on this rotation; waiting for it', {
      rotationId: about.rotationId,
      heldBy: claim.holder.owner,
      until: claim.holder.expiresAt,
    });
    await clock.sleep(Math.min(pause, Math.max(1, heldUntil - now + 1)));
    pause = Math.min(pause * 2, MAX_POLL_MS);
    claim = await ledger.claim(lease, clock.now().toISOString());
  }
  let result: T;
  try {
    result = await act(claim.takenOver);
  } catch (error) {
    await ledger.interrupt(lease).catch((e: unknown) => leaseWarning(deps, lease, e));
    throw error;
  }
  await ledger.release(lease).catch((e: unknown) => leaseWarning(deps, lease, e));
  return result;
}

/** A lease that could not be released expires on its own; a later run then resumes. */
function leaseWarning(deps: LeaseDeps, lease: Lease, error: unknown) {
  deps.log.warn('could not end the rotation lease; it expires on its own', {
    rotationId: lease.rotationId,
    expiresAt: lease.expiresAt,
    error: summarizeError(error),
  });
}
