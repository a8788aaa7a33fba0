import { lastCompletion, type Clock, type KeyrotLogger, type Ledger } from '@keyrot/shared';

export interface TargetHealth {
  readonly target: string;
  /** Days since the target's last completed rotation; null if it never completed one. */
  readonly keyAgeDays: number | null;
  /** Minutes the target's current rotation has held its lock (0 when none is in flight). */
  readonly inFlightMinutes: number;
  readonly inFlightRotationId?: string;
}

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

/**
 * The periodic check behind the key-age and stuck-rotation alarms: for each target, how old
 * its key is (last COMPLETED in the ledger) and how long a rotation has been in flight. It
 * runs on its own schedule, so a broken rotation schedule shows as an ageing key.
 */
export async function checkRotations(
  targets: readonly string[],
  deps: { ledger: Ledger; clock: Clock; log: KeyrotLogger },
): Promise<TargetHealth[]> {
  const now = deps.clock.now().getTime();
  return Promise.all(
    targets.map(async (target) => {
      const [history, lock] = await Promise.all([
        deps.ledger.history(target, 100),
        deps.ledger.lockOf(target),
      ]);
      const completed = lastCompletion(history);
      const health: TargetHealth = {
        target,
        keyAgeDays: completed ? (now - Date.parse(completed.at)) / DAY_MS : null,
        inFlightMinutes: lock ? Math.max(0, (now - Date.parse(lock.acquiredAt)) / MINUTE_MS) : 0,
        ...(lock && { inFlightRotationId: lock.rotationId }),
      };
      if (health.keyAgeDays === null) {
        deps.log.warn('no completed rotation in the ledger for this target', { target });
      }
      return health;
    }),
  );
}
