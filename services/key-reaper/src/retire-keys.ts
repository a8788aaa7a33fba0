import {
  closeAction,
  IntegrityError,
  KEY_TAGS,
  mayRollBack,
  publishFailure,
  publishOrLog,
  retireAction,
  retryDelayMs,
  tryLater,
  ROTATION_FAILED_VERSION,
  rotationState,
  stepsOf,
  summarizeError,
  withLease,
  type Actor,
  type Clock,
  type EdgeUpdated,
  type EventPublisher,
  type Invocation,
  type KeyRef,
  type KeyStore,
  type KeyrotLogger,
  type Ledger,
  type ReaperResult,
  type RetireRetry,
  type RotationFailed,
  type RotationState,
  type StepOf,
} from '@keyrot/shared';

export interface ReaperDeps {
  readonly keys: KeyStore;
  readonly ledger: Ledger;
  readonly events: EventPublisher;
  readonly clock: Clock;
  readonly log: KeyrotLogger;
  readonly actor: Actor;
  /** Time after `Deployed` before the superseded keys are deleted. */
  readonly graceMs: number;
  /** Grace of an emergency rotation (a key to revoke now); default: {@link EMERGENCY_GRACE_MS}. */
  readonly emergencyGraceMs?: number;
  /** This invocation, for the rotation's lease (the handler makes it from Lambda's context). */
  readonly invocation: Invocation;
  /**
   * Tries the deletes again later, after a transient failure. Without it, such a failure
   * ends the rotation FAILED at once (every key kept live).
   */
  readonly retries?: RetireRetries;
}

/** Port: a later `RetireRetry` of a rotation, which resumes its retirement from the ledger. */
export interface RetireRetries {
  retry(retry: RetireRetry, at: Date): Promise<'scheduled' | 'already-scheduled'>;
}

/** An emergency rotation's grace (at most `graceMs`): the edge already sends the new key. */
export const EMERGENCY_GRACE_MS = 5_000;

export type { ReaperResult } from '@keyrot/shared';

/**
 * The last step of a rotation, once the edge sends the new key everywhere: after the grace
 * period, delete the keys this rotation superseded (every other key of the target's name on
 * its usage plan when the new key was issued, the seed's untagged key included), close the
 * rotation, release the lock and announce `KeyRetired`. Under the rotation's lease: of
 * concurrent duplicate `EdgeUpdated` one deletes, the others find the rotation completed.
 * Never deletes another client's key: only keys of the target's exact name, listed by the
 * issuer for this rotation, are candidates, and a key tagged for another keyrot target is
 * kept.
 */
export async function retireKeys(
  event: EdgeUpdated,
  deps: ReaperDeps,
  attempt = 0,
): Promise<ReaperResult> {
  const { rotationId, target } = event;
  return withLease({ rotationId, target: target.name }, deps, async (takenOver) => {
    const state = rotationState(await deps.ledger.timeline(rotationId));
    const step = stepsOf('key-reaper', { rotationId, target: target.name }, deps.actor, deps.clock);
    const edgeStep = step('EDGE_UPDATED', {
      at: event.deployedAt,
      actor: event.actor,
      newKey: event.newKey,
      updatedAt: event.updatedAt,
      previousFingerprint: event.previousFingerprint,
    });
    switch (retireAction(state, takenOver)) {
      case 'unknown-rotation':
        deps.log.error('EdgeUpdated for a rotation this ledger did not send', { rotationId });
        return { status: 'unknown-rotation', rotationId };
      case 'duplicate':
        return { status: 'duplicate', rotationId };
      case 'late':
        // The edge finished after the rotation was closed: both keys stay live.
        await deps.ledger.record(edgeStep);
        deps.log.warn('edge updated after the rotation had failed; superseded keys kept', {
          rotationId,
        });
        return { status: 'late', rotationId };
      case 'announce-again': {
        // A run completed the rotation and died before announcing it.
        const completed = state.step('COMPLETED');
        await announceRetired(event, completed?.keys ?? [], deps);
        return { status: 'duplicate', rotationId };
      }
      case 'retire':
        return retire(event, edgeStep, state, deps, attempt);
    }
  });
}

/**
 * The superseded keys another keyrot target owns. The ledger vouches for the usual ones (the
 * target's current key, its adopted keys) without an API Gateway call; only a key it does not
 * know (the seed's first key, a key of the name made by hand) is read, one `GetApiKey` each,
 * for its `keyrot:target` tag. An untagged key is the target's.
 */
async function ownedByOtherTargets(
  targetName: string,
  superseded: readonly KeyRef[],
  deps: Pick<ReaperDeps, 'keys' | 'ledger'>,
): Promise<Set<string>> {
  const owned = new Set(await deps.ledger.ownedKeys(targetName));
  const others = new Set<string>();
  for (const key of superseded) {
    if (owned.has(key.id)) continue;
    const tags = (await deps.keys.describeKey(key.id))?.tags ?? {};
    if ((tags[KEY_TAGS.target] ?? targetName) !== targetName) others.add(key.id);
  }
  return others;
}

async function retire(
  event: EdgeUpdated,
  edgeStep: StepOf<'EDGE_UPDATED'>,
  state: RotationState,
  deps: ReaperDeps,
  attempt: number,
): Promise<ReaperResult> {
  const { rotationId, target, newKey } = event;
  const { ledger, log } = deps;
  const step = stepsOf('key-reaper', { rotationId, target: target.name }, deps.actor, deps.clock);
  let retired: KeyRef[];
  try {
    const sent = state.step('KEY_SENT');
    if (!sent || sent.newKey.id !== newKey.id || sent.newKey.fingerprint !== newKey.fingerprint) {
      throw new IntegrityError('newKey', sent?.newKey.fingerprint ?? 'none', newKey.fingerprint);
    }
    await ledger.record(edgeStep);

    const emergency = state.requested?.reason === 'emergency';
    const graceMs = emergency
      ? Math.min(deps.graceMs, deps.emergencyGraceMs ?? EMERGENCY_GRACE_MS)
      : deps.graceMs;
    const graceLeft = Date.parse(event.deployedAt) + graceMs - deps.clock.now().getTime();
    if (graceLeft > 0) await deps.clock.sleep(graceLeft);

    // Every key of the target's name on its plan at issuance is superseded, except a key
    // another keyrot target owns (a configuration error, reported, never acted on).
    const superseded = state.supersededKeys.filter((k) => k.id !== newKey.id);
    const otherTargets = await ownedByOtherTargets(target.name, superseded, deps);
    retired = superseded.filter((k) => !otherTargets.has(k.id));
    const protectedKeys = superseded.filter((k) => otherTargets.has(k.id));
    if (protectedKeys.length > 0) {
      log.warn('keys of the target name owned by another keyrot target were left in place', {
        protectedKeys,
      });
    }
    for (const key of retired) await deps.keys.deleteKey(key.id);
    await ledger.record(
      step('KEYS_RETIRED', {
        newKey,
        keys: retired,
        previousFingerprint: event.previousFingerprint,
        protected: protectedKeys.length,
        graceSeconds: graceMs / 1000,
      }),
    );
    // The key's creation time makes the ledger's current-key item (keys older than N days).
    const keyCreatedAt = state.step('KEY_CREATED')?.at;
    await ledger.finish(
      step('COMPLETED', {
        newKey,
        keys: retired,
        // The target as this rotation proved it: the operator's tools rotate and verify it.
        targetSpec: target,
        ...(keyCreatedAt && { keyCreatedAt }),
      }),
    );
  } catch (error) {
    const later = await retryLater(event, attempt + 1, error, deps);
    if (later) return later;
    // The edge sends the new key: keep every key live, close the rotation as failed.
    const failure = summarizeError(error);
    log.error('retiring the superseded keys failed', { rotationId, error: failure });
    await ledger.finish(
      step('FAILED', {
        stage: 'retire',
        error: failure,
        newKey,
        rolledBack: false,
        newKeyMayBeAtEdge: true,
      }),
    );
    await publishFailure(deps, {
      version: ROTATION_FAILED_VERSION,
      rotationId,
      target,
      stage: 'retire',
      error: failure,
      newKey,
      newKeyMayBeAtEdge: true,
      rolledBack: false,
      failedAt: deps.clock.now().toISOString(),
      actor: deps.actor,
    });
    return { status: 'failed', rotationId, error: failure.name };
  }
  // Outside the try: the rotation is closed as COMPLETED; a lost announcement cannot undo it.
  await announceRetired(event, retired, deps);
  log.info('rotation completed', { rotationId, newKey, retiredKeys: retired });
  const at = (name: 'REQUESTED' | 'KEY_SENT') => Date.parse(state.step(name)?.at ?? '');
  const completedAt = deps.clock.now().getTime();
  return {
    status: 'completed',
    rotationId,
    retiredKeys: retired,
    durationsMs: {
      Rotation: completedAt - at('REQUESTED'),
      Issue: at('KEY_SENT') - at('REQUESTED'),
      EdgeDeploy: Date.parse(event.deployedAt) - Date.parse(event.updatedAt),
      Retire: completedAt - Date.parse(event.deployedAt),
    },
  };
}

function announceRetired(event: EdgeUpdated, retired: readonly KeyRef[], deps: ReaperDeps) {
  return publishOrLog(deps, 'KeyRetired', {
    version: 1,
    rotationId: event.rotationId,
    target: event.target,
    newKey: event.newKey,
    retiredKeys: [...retired],
    completedAt: deps.clock.now().toISOString(),
  });
}

/**
 * Closes a rotation the edge (or the issuer) could not complete. If the edge never sent the
 * new key it is deleted again (rollback); the old key was never touched. The lock is released
 * either way. Under the rotation's lease, like every API-side step.
 */
export async function closeFailedRotation(
  event: RotationFailed,
  deps: ReaperDeps,
): Promise<ReaperResult> {
  const { rotationId, target } = event;
  return withLease({ rotationId, target: target.name }, deps, async () => {
    const state = rotationState(await deps.ledger.timeline(rotationId));
    switch (closeAction(state)) {
      case 'unknown-rotation':
        deps.log.error('RotationFailed for a rotation this ledger did not start', { rotationId });
        return { status: 'unknown-rotation', rotationId };
      case 'duplicate':
        return { status: 'duplicate', rotationId };
      case 'close':
        break;
    }
    const step = stepsOf('key-reaper', { rotationId, target: target.name }, deps.actor, deps.clock);
    const { newKey } = state;
    let rolledBack = false;
    if (newKey && mayRollBack(state, event)) {
      await deps.keys.deleteKey(newKey.id);
      rolledBack = true;
      await deps.ledger.record(step('ROLLED_BACK', { newKey, keys: [newKey] }));
    }
    await deps.ledger.finish(
      step('FAILED', {
        stage: event.stage,
        error: event.error,
        rolledBack,
        newKeyMayBeAtEdge: !rolledBack && event.newKeyMayBeAtEdge,
        failedAt: event.failedAt,
        reportedBy: event.actor.account,
        reportedByFunction: event.actor.function,
        ...(event.actor.requestId && { reportedByRequestId: event.actor.requestId }),
        ...(newKey && { newKey }),
      }),
    );
    deps.log.warn('rotation closed as failed', { rotationId, stage: event.stage, rolledBack });
    return { status: rolledBack ? 'rolled-back' : 'closed', rotationId };
  });
}

/**
 * A scheduled retry of the deletes ({@link retireKeys}): what the edge reported is read back
 * from the ledger's EDGE_UPDATED (recorded from the real `EdgeUpdated` before any delete).
 */
export async function retryRetire(retry: RetireRetry, deps: ReaperDeps): Promise<ReaperResult> {
  const { rotationId } = retry;
  const state = rotationState(await deps.ledger.timeline(rotationId));
  const edge = state.step('EDGE_UPDATED');
  const target = state.requested?.targetSpec;
  if (!edge || !target) {
    deps.log.error('RetireRetry for a rotation whose edge update is not recorded', { rotationId });
    return { status: 'unknown-rotation', rotationId };
  }
  deps.log.appendKeys({ step: 'RETIRE_RETRY', attempt: retry.attempt });
  const event: EdgeUpdated = {
    version: 1,
    rotationId,
    target,
    newKey: edge.newKey,
    previousFingerprint: edge.previousFingerprint,
    updatedAt: edge.updatedAt,
    deployedAt: edge.at,
    actor: edge.actor,
  };
  return retireKeys(event, deps, retry.attempt);
}

/**
 * Schedules try `attempt` of the deletes after a transient failure, while the rotation's
 * lock lasts; undefined (the caller fails the rotation, every key kept) otherwise.
 */
async function retryLater(
  event: EdgeUpdated,
  attempt: number,
  error: unknown,
  deps: ReaperDeps,
): Promise<ReaperResult | undefined> {
  const failure = summarizeError(error);
  if (!failure.retryable || !deps.retries) return undefined;
  const { rotationId, target } = event;
  const { retries } = deps;
  const lock = await deps.ledger.lockOf(target.name).catch(() => undefined);
  if (lock?.rotationId !== rotationId) return undefined;
  const at = new Date(deps.clock.now().getTime() + retryDelayMs(attempt));
  const scheduled = await tryLater({
    rotationId,
    error: failure,
    what: 'retiring',
    at,
    deadline: Date.parse(lock.expiresAt),
    attempt,
    log: deps.log,
    schedule: () => retries.retry({ version: 1, rotationId, target, attempt }, at),
  });
  return scheduled ? { status: 'retrying', rotationId, error: failure.name } : undefined;
}
