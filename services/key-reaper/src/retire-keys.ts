import {
  IntegrityError,
  KEY_TAGS,
  publishFailure,
  publishOrLog,
  recordedSteps,
  stepsOf,
  summarizeError,
  type Actor,
  type Clock,
  type EdgeUpdated,
  type EventPublisher,
  type KeyRef,
  type KeyStore,
  type KeyrotLogger,
  type Ledger,
  type RotationFailed,
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
}

/** An emergency rotation's grace (at most `graceMs`): the edge already sends the new key. */
export const EMERGENCY_GRACE_MS = 5_000;

export type ReaperResult =
  | {
      status: 'completed';
      rotationId: string;
      retiredKeys: KeyRef[];
      /** Request to completion, and each side's part of it (for metrics). */
      durationsMs: Record<'Rotation' | 'Issue' | 'EdgeDeploy' | 'Retire', number>;
    }
  | { status: 'rolled-back' | 'closed'; rotationId: string }
  | { status: 'duplicate' | 'unknown-rotation' | 'late'; rotationId: string }
  | { status: 'failed'; rotationId: string; error: string };

/**
 * The last step of a rotation, once the edge sends the new key everywhere: after the grace
 * period, delete the keys this rotation superseded (every other key of the target's name on
 * its usage plan when the new key was issued, the seed's untagged key included), close the
 * rotation, release the lock and announce `KeyRetired`. Never deletes another client's key:
 * only keys of the target's exact name, listed by the issuer for this rotation, are
 * candidates, and a key tagged for another keyrot target is kept.
 */
export async function retireKeys(event: EdgeUpdated, deps: ReaperDeps): Promise<ReaperResult> {
  const { rotationId, target, newKey } = event;
  const { ledger, log } = deps;
  const timeline = await recordedSteps(ledger, rotationId);
  const sent = timeline.get('KEY_SENT');
  if (!timeline.has('REQUESTED') || !sent?.newKey) {
    log.error('EdgeUpdated for a rotation this ledger did not send', { rotationId });
    return { status: 'unknown-rotation', rotationId };
  }
  if (timeline.has('COMPLETED')) return { status: 'duplicate', rotationId };
  const step = stepsOf(rotationId, target.name, deps.actor, deps.clock);
  const edgeStep = step('EDGE_UPDATED', {
    at: event.deployedAt,
    actor: event.actor,
    newKey,
    facts: { updatedAt: event.updatedAt, previousFingerprint: event.previousFingerprint },
  });
  if (timeline.has('FAILED')) {
    // The edge finished after the rotation was closed: both keys stay live, nothing to delete.
    await ledger.record(edgeStep);
    log.warn('edge updated after the rotation had failed; superseded keys kept', { rotationId });
    return { status: 'late', rotationId };
  }

  let retired: KeyRef[];
  try {
    if (sent.newKey.id !== newKey.id || sent.newKey.fingerprint !== newKey.fingerprint) {
      throw new IntegrityError('newKey', sent.newKey.fingerprint, newKey.fingerprint);
    }
    await ledger.record(edgeStep);

    const emergency = timeline.get('REQUESTED')?.reason === 'emergency';
    const graceMs = emergency
      ? Math.min(deps.graceMs, deps.emergencyGraceMs ?? EMERGENCY_GRACE_MS)
      : deps.graceMs;
    const graceLeft = Date.parse(event.deployedAt) + graceMs - deps.clock.now().getTime();
    if (graceLeft > 0) await deps.clock.sleep(graceLeft);

    // Every key of the target's name on its plan at issuance is superseded, except a key
    // another keyrot target owns (a configuration error, reported, never acted on).
    const otherTargets = new Set(
      (await deps.keys.listKeysNamed(target.apiKeyName))
        .filter((k) => (k.tags[KEY_TAGS.target] ?? target.name) !== target.name)
        .map((k) => k.id),
    );
    const superseded = (sent.keys ?? []).filter((k) => k.id !== newKey.id);
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
        facts: {
          previousFingerprint: event.previousFingerprint,
          protected: protectedKeys.length,
          graceSeconds: graceMs / 1000,
        },
      }),
    );
    // The key's creation time makes the ledger's current-key item (keys older than N days).
    const keyCreatedAt = timeline.get('KEY_CREATED')?.at;
    await ledger.finish(
      step('COMPLETED', {
        newKey,
        keys: retired,
        // The target as this rotation proved it: the operator's tools rotate and verify it.
        targetSpec: target,
        ...(keyCreatedAt && { facts: { keyCreatedAt } }),
      }),
    );
  } catch (error) {
    // The edge sends the new key: keep every key live, close the rotation as failed.
    const failure = summarizeError(error);
    log.error('retiring the superseded keys failed', { rotationId, error: failure });
    await ledger.finish(
      step('FAILED', { newKey, error: failure, facts: { stage: 'retire', rolledBack: false } }),
    );
    await publishFailure(deps, {
      version: 1,
      rotationId,
      target,
      stage: 'retire',
      error: failure,
      newKey,
      edgeUpdated: true,
      rolledBack: false,
      failedAt: deps.clock.now().toISOString(),
      actor: deps.actor,
    });
    return { status: 'failed', rotationId, error: failure.name };
  }
  // Outside the try: the rotation is closed as COMPLETED; a lost announcement cannot undo it.
  await publishOrLog(deps, 'KeyRetired', {
    version: 1,
    rotationId,
    target,
    newKey,
    retiredKeys: retired,
    completedAt: deps.clock.now().toISOString(),
  });
  log.info('rotation completed', { rotationId, newKey, retiredKeys: retired });
  const at = (name: 'REQUESTED' | 'KEY_SENT') => Date.parse(timeline.get(name)?.at ?? '');
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

/**
 * Closes a rotation the edge could not complete. If the edge never sent the new key it is
 * deleted again (rollback); the old key was never touched. The lock is released either way.
 */
export async function closeFailedRotation(
  event: RotationFailed,
  deps: ReaperDeps,
): Promise<ReaperResult> {
  const { rotationId, target } = event;
  const timeline = await recordedSteps(deps.ledger, rotationId);
  if (!timeline.has('REQUESTED')) {
    deps.log.error('RotationFailed for a rotation this ledger did not start', { rotationId });
    return { status: 'unknown-rotation', rotationId };
  }
  if (timeline.has('COMPLETED') || timeline.has('FAILED')) {
    return { status: 'duplicate', rotationId };
  }
  const step = stepsOf(rotationId, target.name, deps.actor, deps.clock);
  const newKey = timeline.get('KEY_CREATED')?.newKey;
  let rolledBack = false;
  if (newKey && !event.edgeUpdated) {
    await deps.keys.deleteKey(newKey.id);
    rolledBack = true;
    await deps.ledger.record(step('ROLLED_BACK', { newKey, keys: [newKey] }));
  }
  await deps.ledger.finish({
    ...step('FAILED'),
    error: event.error,
    facts: {
      stage: event.stage,
      rolledBack,
      failedAt: event.failedAt,
      reportedBy: event.actor.account,
      reportedByFunction: event.actor.function,
      ...(event.actor.requestId && { reportedByRequestId: event.actor.requestId }),
    },
    ...(newKey && { newKey }),
  });
  deps.log.warn('rotation closed as failed', { rotationId, stage: event.stage, rolledBack });
  return { status: rolledBack ? 'rolled-back' : 'closed', rotationId };
}
