import {
  IntegrityError,
  publishOrLog,
  rotationContext,
  summarizeError,
  type EdgeDeploymentCheck,
  type EdgeHealRequested,
  type HealEdgeResult,
} from '@keyrot/shared';
import {
  awaitDeployment,
  deadlineAfter,
  writeHeader,
  type EdgeDeps,
  type HeaderProgress,
  type Progress,
} from './update-edge';

/**
 * The edge's half of a heal (the drift guard saw the edge send a key that is not live): open
 * the sealed current key, put it back as the origin's header with the same `IfMatch` write as
 * a rotation, and only over the header the API side judged (`supersededFingerprints`) or a
 * missing one, wait for `Deployed` as a rotation does (re-checks included), then announce
 * `EdgeHealed`. Any failure announces `EdgeHealFailed`; a header someone changed again
 * meanwhile is never overwritten (EdgeDriftError). Idempotent: a redelivery finds the header
 * set and only waits and announces again.
 */
export async function healEdge(event: EdgeHealRequested, deps: EdgeDeps): Promise<HealEdgeResult> {
  const { rotationId, target, newKey } = event;
  deps.log.appendKeys({ step: 'EDGE_HEAL' });
  const written: HeaderProgress = { header: 'unknown' };
  try {
    const value = await deps.sealer.open(
      event.kmsKeyArn,
      event.encryptedValue,
      rotationContext(rotationId, target.name, newKey.id),
    );
    if (value.fingerprint !== newKey.fingerprint) {
      throw new IntegrityError('newKey', newKey.fingerprint, value.fingerprint);
    }
    const replaceable = new Set(event.supersededFingerprints);
    const { previousFingerprint } = await writeHeader(
      { rotationId, target, newKey, value },
      (fingerprint) => fingerprint === null || replaceable.has(fingerprint),
      written,
      deps,
    );
    const progress: Progress = {
      rotationId,
      target,
      newKey,
      previousFingerprint,
      updatedAt: deps.clock.now().toISOString(),
      deadline: deadlineAfter(event.requestedAt, deps),
      purpose: 'heal',
    };
    return await awaitDeployment(progress, 1, deps, (deployedAt) =>
      announceHealed(progress, deployedAt, deps),
    );
  } catch (error) {
    return healFailed(event, error, deps);
  }
}

/** A heal's scheduled re-check of its deployment ({@link healEdge}'s wait, continued). */
export async function checkHealDeployment(
  check: EdgeDeploymentCheck,
  deps: EdgeDeps,
): Promise<HealEdgeResult> {
  deps.log.appendKeys({ step: 'EDGE_HEAL_CHECK', check: check.check });
  try {
    return await awaitDeployment(check, check.check + 1, deps, (deployedAt) =>
      announceHealed(check, deployedAt, deps),
    );
  } catch (error) {
    return healFailed(check, error, deps);
  }
}

async function announceHealed(
  progress: Progress,
  deployedAt: string,
  deps: EdgeDeps,
): Promise<HealEdgeResult> {
  const { rotationId, target, newKey, previousFingerprint, updatedAt } = progress;
  await deps.events.publish('EdgeHealed', {
    version: 1,
    rotationId,
    target,
    newKey,
    previousFingerprint,
    updatedAt,
    deployedAt,
    actor: deps.actor,
  });
  deps.log.info('healed: the edge sends the current key everywhere', {
    rotationId,
    newKey,
    previousFingerprint,
  });
  return {
    status: 'healed-at-edge',
    rotationId,
    previousFingerprint,
    durationsMs: { EdgeHeal: Date.parse(deployedAt) - Date.parse(updatedAt) },
  };
}

async function healFailed(
  about: Pick<EdgeHealRequested, 'rotationId' | 'target' | 'newKey'>,
  error: unknown,
  deps: EdgeDeps,
): Promise<HealEdgeResult> {
  const { rotationId, target, newKey } = about;
  const failure = summarizeError(error);
  deps.log.error('healing the edge failed', { rotationId, error: failure });
  await publishOrLog(deps, 'EdgeHealFailed', {
    version: 1,
    rotationId,
    target,
    newKey,
    error: failure,
    failedAt: deps.clock.now().toISOString(),
    actor: deps.actor,
  });
  return { status: 'heal-failed', rotationId, error: failure.name };
}
