import {
  DeploymentTimeoutError,
  EdgeDriftError,
  IntegrityError,
  ResourceNotFoundError,
  publishFailure,
  retryDelayMs,
  tryLater,
  ROTATION_FAILED_VERSION,
  rotationContext,
  summarizeError,
  type Actor,
  currentKeyVersionId,
  type Clock,
  type CurrentKeyReference,
  type EdgeDeploymentCheck,
  type EdgeResult,
  type EdgeUpdateRetry,
  type EventPublisher,
  type KeyCreated,
  type KeySealer,
  type KeyrotLogger,
  type KeyRef,
  type SecretValue,
  type Target,
} from '@keyrot/shared';
import type { DeploymentChecks } from './deployment-checks';
import { EdgeConfigChangedError, type EdgeConfigStore } from './edge-config';

export interface EdgeDeps {
  readonly edge: EdgeConfigStore;
  /**
   * The target's current-key reference (a Secrets Manager secret in this account): set to the
   * new key before the header is written, so the user's templates never deploy a deleted key.
   */
  readonly currentKey: CurrentKeyReference;
  readonly sealer: KeySealer;
  readonly events: EventPublisher;
  readonly clock: Clock;
  readonly log: KeyrotLogger;
  readonly actor: Actor;
  /** Pause between two deployment checks. */
  readonly pollIntervalMs: number;
  /** How long this invocation may wait for `Deployed` (bounded by the Lambda's time left). */
  readonly maxWaitMs: number;
  /** Attempts at read–change–write when the distribution changes under us (ETag). */
  readonly writeAttempts?: number;
  /**
   * Continues a wait for `Deployed` that outlasts this invocation in a scheduled check.
   * Without it, the wait ends with {@link DeploymentTimeoutError} after `maxWaitMs`.
   */
  readonly deployChecks?: DeploymentChecks;
  /** Pause before a scheduled check (default 60 s). */
  readonly recheckDelayMs?: number;
  /** How long after `issuedAt` the edge waits for `Deployed` before it gives up (default 2 h). */
  readonly deployDeadlineMs?: number;
}

/** Default of {@link EdgeDeps.deployDeadlineMs}: CloudFront usually deploys within minutes. */
export const DEFAULT_DEPLOY_DEADLINE_MS = 2 * 3600_000;

const deadlineMs = (deps: EdgeDeps) => deps.deployDeadlineMs ?? DEFAULT_DEPLOY_DEADLINE_MS;

/** What the edge knows once the header is set; a scheduled check carries it on. */
export type Progress = Omit<EdgeDeploymentCheck, 'version' | 'check'>;

/** The rotation's (or heal's) deadline, from when its key was sent. */
export const deadlineAfter = (sentAt: string, deps: EdgeDeps): string =>
  new Date(Date.parse(sentAt) + deadlineMs(deps)).toISOString();

export type { EdgeResult } from '@keyrot/shared';

/**
 * The edge's half of a rotation: open the sealed key, set it as the origin's header (only
 * if the edge currently sends a key this rotation supersedes, the new one already, or none),
 * wait until every edge location has it, and announce `EdgeUpdated`. A wait longer than this
 * invocation continues in a scheduled {@link checkDeployment}, until the deadline. Idempotent:
 * a redelivered `KeyCreated` finds the header already set and only waits and announces again.
 *
 * A transient failure before the header is written (throttling or a 5xx that outlasted the
 * SDK's retries, e.g. CloudFront's `Rate exceeded` on UpdateDistribution) does not fail the
 * rotation: the write is tried again in a scheduled {@link retryEdgeUpdate}, after delays that
 * double (from `recheckDelayMs`, at most 15 minutes: shared/src/rotation/retry.ts), until
 * the deadline.
 */
export async function updateEdge(
  event: KeyCreated,
  deps: EdgeDeps,
  attempt = 0,
): Promise<EdgeResult> {
  const { rotationId, target, newKey } = event;
  const { log } = deps;
  // What this run knows of the header: decides whether the new key may be at the edge.
  // 'unknown' until a read or a refused write says otherwise (a redelivery may find it set).
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

    const superseded = new Set(event.supersededKeys.map((k) => k.fingerprint));
    const version = currentKeyVersionId(rotationId);
    const { previousFingerprint, alreadySet } = await writeHeader(
      {
        rotationId,
        target,
        newKey,
        value,
        // Before the header (and again when a redelivery finds it set): a template deployed
        // from now on sends the new key, which is live.
        beforeWrite: async () => {
          await deps.currentKey.put(target.name, value, version);
          log.info('current-key reference set to the new key', { rotationId, newKey, version });
        },
      },
      (fingerprint) => fingerprint === null || superseded.has(fingerprint),
      written,
      deps,
    );
    const updatedAt = deps.clock.now().toISOString();
    log.appendKeys({ step: 'EDGE_HEADER_SET' });
    const progress: Progress = {
      rotationId,
      target,
      newKey,
      previousFingerprint,
      updatedAt,
      deadline: deadlineAfter(event.issuedAt, deps),
    };
    return await awaitDeployment(progress, 1, deps, (deployedAt) =>
      announceUpdated(progress, deployedAt, alreadySet ? 'already-updated' : 'updated', deps),
    );
  } catch (error) {
    const { header } = written;
    if (header !== 'new-key') {
      const later = await retryLater(event, attempt + 1, error, deps);
      if (later) return later;
    }
    // `newKeyMayBeAtEdge: false` lets the API side delete the new key. Only say so when no
    // delivery of this KeyCreated can write it: a failure that may pass on a redelivery
    // (throttling, a 5xx, a changed ETag) leaves the key live, or a duplicate could install a
    // deleted key.
    const mayBeAtEdge =
      header === 'new-key' ||
      summarizeError(error).retryable ||
      (header === 'unknown' && (await headerMayHoldNewKey(event, deps)));
    // The reference must not name a key the API side is about to delete: if it cannot be put
    // back, the new key stays live (safe) instead.
    const newKeyMayBeAtEdge = mayBeAtEdge || !(await referenceRestored(event, deps));
    return fail(event, error, newKeyMayBeAtEdge, deps);
  }
}

/** A scheduled retry of the header write ({@link updateEdge}): the same steps, once more. */
export async function retryEdgeUpdate(retry: EdgeUpdateRetry, deps: EdgeDeps): Promise<EdgeResult> {
  deps.log.appendKeys({ step: 'EDGE_UPDATE_RETRY', attempt: retry.attempt });
  return updateEdge(retry.keyCreated, deps, retry.attempt);
}

/**
 * Schedules try `attempt` of the header write after a transient failure, if the rotation's
 * deadline leaves time for it; undefined (the caller reports the failure) otherwise.
 */
async function retryLater(
  event: KeyCreated,
  attempt: number,
  error: unknown,
  deps: EdgeDeps,
): Promise<EdgeResult | undefined> {
  const failure = summarizeError(error);
  if (!failure.retryable || !deps.deployChecks) return undefined;
  const { rotationId, target } = event;
  const { deployChecks } = deps;
  const at = new Date(deps.clock.now().getTime() + retryDelayMs(attempt, deps.recheckDelayMs));
  const scheduled = await tryLater({
    rotationId,
    error: failure,
    what: 'updating the edge',
    at,
    deadline: Date.parse(event.issuedAt) + deadlineMs(deps),
    attempt,
    log: deps.log,
    schedule: () =>
      deployChecks.retry({ version: 1, rotationId, target, keyCreated: event, attempt }, at),
  });
  return scheduled ? { status: 'retrying', rotationId, attempt, error: failure.name } : undefined;
}

/**
 * A scheduled re-check of a deployment that outlasted an earlier invocation: wait again
 * within this invocation, then announce `EdgeUpdated`, or schedule the next check, or (past
 * the deadline, or if the header changed meanwhile) report the rotation as failed. Idempotent:
 * a duplicate check waits and announces again, and schedules the same next check.
 */
export async function checkDeployment(
  check: EdgeDeploymentCheck,
  deps: EdgeDeps,
): Promise<EdgeResult> {
  deps.log.appendKeys({ step: 'EDGE_DEPLOY_CHECK', check: check.check });
  try {
    return await awaitDeployment(check, check.check + 1, deps, (deployedAt) =>
      announceUpdated(check, deployedAt, 'updated', deps),
    );
  } catch (error) {
    // An earlier invocation wrote the header: edge locations may send the new key.
    return fail(check, error, true, deps);
  }
}

/**
 * Waits for `Deployed` and announces it (`onDeployed`), or hands the wait on to a scheduled
 * check (which carries `progress.purpose`, so a heal's check announces a heal). A rotation
 * and a heal share it: the same wait, the same re-checks, the same deadline.
 */
export async function awaitDeployment<R>(
  progress: Progress,
  nextCheck: number,
  deps: EdgeDeps,
  onDeployed: (deployedAt: string) => Promise<R>,
): Promise<R | { status: 'deploying'; rotationId: string; check: number }> {
  const { rotationId, target } = progress;
  const wait = await waitOrRecheck(progress, deps);
  if (!wait.deployed) {
    if (!deps.deployChecks) {
      throw new DeploymentTimeoutError(target.distributionId, wait.waitedMs / 1000);
    }
    const now = deps.clock.now().getTime();
    const at = new Date(
      Math.min(now + (deps.recheckDelayMs ?? 60_000), Date.parse(progress.deadline)),
    );
    const check: EdgeDeploymentCheck = { version: 1, ...progress, check: nextCheck };
    const scheduled = await deps.deployChecks.schedule(check, at);
    deps.log.info('not Deployed yet: the wait continues in a scheduled check', {
      rotationId,
      check: nextCheck,
      at: at.toISOString(),
      scheduled,
    });
    return { status: 'deploying', rotationId, check: nextCheck };
  }
  const deployedAt = deps.clock.now().toISOString();
  deps.log.appendKeys({ step: 'EDGE_DEPLOYED' });
  return onDeployed(deployedAt);
}

/** A rotation's header is deployed everywhere: `EdgeUpdated`. */
async function announceUpdated(
  progress: Progress,
  deployedAt: string,
  status: 'updated' | 'already-updated',
  deps: EdgeDeps,
): Promise<EdgeResult> {
  const { rotationId, target, newKey, previousFingerprint, updatedAt } = progress;
  await deps.events.publish('EdgeUpdated', {
    version: 1,
    rotationId,
    target,
    newKey,
    previousFingerprint,
    updatedAt,
    deployedAt,
    actor: deps.actor,
  });
  return {
    status,
    rotationId,
    previousFingerprint,
    durationsMs: { EdgeDeploy: Date.parse(deployedAt) - Date.parse(updatedAt) },
  };
}

/** What a header write knows of the header, for the caller's failure report. */
export interface HeaderProgress {
  /** 'unknown' until a read or a refused write says otherwise (a redelivery may find it set). */
  header: 'new-key' | 'other-key' | 'unknown';
}

/**
 * Sets the origin's header to `value` with `IfMatch` on the config just read, if the edge
 * sends `newKey` already (then nothing is written) or a key `mayReplace` allows; anything else
 * throws {@link EdgeDriftError}. A distribution that changed between read and write is read
 * again, `writeAttempts` times. A rotation and a heal share it, so both write the same way.
 */
export async function writeHeader(
  write: {
    readonly rotationId: string;
    readonly target: Target;
    readonly newKey: KeyRef;
    readonly value: SecretValue;
    /** Runs before the header is written, and when it already holds the new key. */
    readonly beforeWrite?: () => Promise<void>;
  },
  mayReplace: (fingerprint: string | null) => boolean,
  progress: HeaderProgress,
  deps: EdgeDeps,
): Promise<{ previousFingerprint: string | null; alreadySet: boolean }> {
  const { rotationId, target, newKey, value } = write;
  const { edge, log } = deps;
  const attempts = deps.writeAttempts ?? 3;
  let previousFingerprint: string | null = null;
  for (let attempt = 1; ; attempt++) {
    const current = await edge.readHeader(target);
    if (current.fingerprint === newKey.fingerprint) {
      await write.beforeWrite?.();
      progress.header = 'new-key';
      log.info('header already holds the new key', { rotationId, newKey });
      return { previousFingerprint, alreadySet: true };
    }
    progress.header = 'other-key';
    if (!mayReplace(current.fingerprint)) {
      throw new EdgeDriftError(
        target.distributionId,
        target.originId,
        target.headerName,
        current.fingerprint ?? 'none',
      );
    }
    previousFingerprint = current.fingerprint;
    await write.beforeWrite?.();
    progress.header = 'unknown';
    try {
      await edge.writeHeader(target, current.etag, value);
      progress.header = 'new-key';
      log.info('header updated, waiting for Deployed', { rotationId, newKey, previousFingerprint });
      return { previousFingerprint, alreadySet: false };
    } catch (error) {
      if (!(error instanceof EdgeConfigChangedError)) throw error;
      progress.header = 'other-key'; // refused by IfMatch: nothing was written
      if (attempt >= attempts) throw error;
      log.warn('distribution changed while updating, retrying', { rotationId, attempt });
    }
  }
}

/** Reports the rotation as failed at the edge (`RotationFailed`, stage `edge`). */
async function fail(
  about: Pick<KeyCreated, 'rotationId' | 'target' | 'newKey'>,
  error: unknown,
  newKeyMayBeAtEdge: boolean,
  deps: EdgeDeps,
): Promise<EdgeResult> {
  const { rotationId, target, newKey } = about;
  const failure = summarizeError(error);
  deps.log.error('updating the edge failed', { rotationId, error: failure, newKeyMayBeAtEdge });
  await publishFailure(deps, {
    version: ROTATION_FAILED_VERSION,
    rotationId,
    target,
    stage: 'edge',
    error: failure,
    newKey,
    newKeyMayBeAtEdge,
    rolledBack: false,
    failedAt: deps.clock.now().toISOString(),
    actor: deps.actor,
  });
  return { status: 'failed', rotationId, error: failure.name };
}

/**
 * Before a failure lets the API side delete the new key: puts the current-key reference back
 * to the key it named before this rotation (if this rotation's version is current: any
 * delivery may have written it). False when it cannot: the reference still names the new key.
 */
async function referenceRestored(event: KeyCreated, deps: EdgeDeps): Promise<boolean> {
  const { rotationId, target } = event;
  try {
    const restored = await deps.currentKey.restore(target.name, currentKeyVersionId(rotationId));
    if (restored === 'restored') {
      deps.log.info('current-key reference put back to the key it named before', { rotationId });
    }
    if (restored !== 'no-earlier-version') return true;
    deps.log.warn('current-key reference was empty before this rotation: the new key stays live', {
      rotationId,
    });
    return false;
  } catch (error) {
    // No reference at all: nothing names the new key.
    if (error instanceof ResourceNotFoundError) return true;
    deps.log.warn('putting the current-key reference back failed: the new key stays live', {
      rotationId,
      error: summarizeError(error),
    });
    return false;
  }
}

/**
 * After a failure with the edge's state unknown (a write that failed oddly, or a redelivery
 * that failed before reading): does the distribution hold the new key? Only a read saying no,
 * or a distribution or origin that does not exist, lets the API side roll the key back.
 * Once the key was written, it stays "yes" whatever happens next: edge locations that
 * adopted it may send it until the next change has propagated.
 */
async function headerMayHoldNewKey(event: KeyCreated, deps: EdgeDeps): Promise<boolean> {
  try {
    const current = await deps.edge.readHeader(event.target);
    return current.fingerprint === event.newKey.fingerprint;
  } catch (error) {
    return !(error instanceof ResourceNotFoundError);
  }
}

/**
 * {@link waitForDeployed}, but a transient failure to read the distribution (throttling, a
 * 5xx) hands the wait on to the next scheduled check instead of failing the rotation, until
 * the deadline.
 */
async function waitOrRecheck(
  progress: Progress,
  deps: EdgeDeps,
): Promise<{ deployed: boolean; waitedMs: number }> {
  try {
    return await waitForDeployed(progress, deps);
  } catch (error) {
    const failure = summarizeError(error);
    const past = deps.clock.now().getTime() >= Date.parse(progress.deadline);
    if (!failure.retryable || !deps.deployChecks || past) throw error;
    deps.log.warn(
      'reading the deployment failed on a transient cause; the next check reads again',
      {
        rotationId: progress.rotationId,
        error: failure,
      },
    );
    return { deployed: false, waitedMs: 0 };
  }
}

/**
 * Polls until the distribution is `Deployed` and sends the new key everywhere, for as long as
 * this invocation may wait (`maxWaitMs`). Throws {@link DeploymentTimeoutError} past the
 * rotation's deadline, {@link EdgeDriftError} if the header no longer holds the new key.
 */
async function waitForDeployed(
  progress: Progress,
  deps: EdgeDeps,
): Promise<{ deployed: boolean; waitedMs: number }> {
  const { target, newKey } = progress;
  const started = deps.clock.now().getTime();
  const deadline = Date.parse(progress.deadline);
  for (;;) {
    const state = await deps.edge.deployment(target);
    const now = deps.clock.now().getTime();
    if (state.deployed && state.fingerprint === newKey.fingerprint) {
      return { deployed: true, waitedMs: now - started };
    }
    if (state.fingerprint !== newKey.fingerprint) {
      // Someone replaced the header after us: never announce a key the edge does not send.
      throw new EdgeDriftError(
        target.distributionId,
        target.originId,
        target.headerName,
        state.fingerprint ?? 'none',
      );
    }
    if (now + deps.pollIntervalMs > deadline) {
      throw new DeploymentTimeoutError(
        target.distributionId,
        (now - Date.parse(progress.updatedAt)) / 1000,
      );
    }
    if (now - started + deps.pollIntervalMs > deps.maxWaitMs) {
      return { deployed: false, waitedMs: now - started };
    }
    await deps.clock.sleep(deps.pollIntervalMs);
  }
}
