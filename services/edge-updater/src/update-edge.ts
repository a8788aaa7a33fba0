import {
  DeploymentTimeoutError,
  EdgeDriftError,
  IntegrityError,
  ResourceNotFoundError,
  publishFailure,
  rotationContext,
  summarizeError,
  type Actor,
  type Clock,
  type EventPublisher,
  type KeyCreated,
  type KeySealer,
  type KeyrotLogger,
} from '@keyrot/shared';
import { EdgeConfigChangedError, type EdgeConfigStore } from './edge-config';

export interface EdgeDeps {
  readonly edge: EdgeConfigStore;
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
}

export type EdgeResult =
  | {
      status: 'updated' | 'already-updated';
      rotationId: string;
      previousFingerprint: string | null;
      durationsMs: { EdgeDeploy: number };
    }
  | { status: 'failed'; rotationId: string; error: string };

/**
 * The edge's half of a rotation: open the sealed key, set it as the origin's header (only
 * if the edge currently sends a key this rotation supersedes, the new one already, or none),
 * wait until every edge location has it, and announce `EdgeUpdated`. Idempotent: a
 * redelivered `KeyCreated` finds the header already set and only waits and announces again.
 */
export async function updateEdge(event: KeyCreated, deps: EdgeDeps): Promise<EdgeResult> {
  const { rotationId, target, newKey } = event;
  const { edge, log } = deps;
  // Whether the edge may send the new key: decides whether the API side may roll it back.
  // 'unknown' until a read or a refused write says otherwise (a redelivery may find it set).
  let edgeHasNewKey: 'yes' | 'no' | 'unknown' = 'unknown';
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
    const attempts = deps.writeAttempts ?? 3;
    let previousFingerprint: string | null = null;
    let alreadySet = false;
    for (let attempt = 1; edgeHasNewKey !== 'yes'; attempt++) {
      const current = await edge.readHeader(target);
      if (current.fingerprint === newKey.fingerprint) {
        edgeHasNewKey = 'yes';
        alreadySet = true;
        log.info('header already holds the new key', { rotationId, newKey });
        break;
      }
      edgeHasNewKey = 'no';
      if (current.fingerprint !== null && !superseded.has(current.fingerprint)) {
        throw new EdgeDriftError(
          target.distributionId,
          target.originId,
          target.headerName,
          current.fingerprint,
        );
      }
      previousFingerprint = current.fingerprint;
      edgeHasNewKey = 'unknown';
      try {
        await edge.writeHeader(target, current.etag, value);
        edgeHasNewKey = 'yes';
        log.info('header updated, waiting for Deployed', {
          rotationId,
          newKey,
          previousFingerprint,
        });
      } catch (error) {
        if (!(error instanceof EdgeConfigChangedError)) throw error;
        edgeHasNewKey = 'no'; // refused by IfMatch: nothing was written
        if (attempt >= attempts) throw error;
        log.warn('distribution changed while updating, retrying', { rotationId, attempt });
      }
    }
    const updatedAt = deps.clock.now().toISOString();
    log.appendKeys({ step: 'EDGE_HEADER_SET' });

    await waitForDeployed(event, deps);
    const deployedAt = deps.clock.now().toISOString();
    log.appendKeys({ step: 'EDGE_DEPLOYED' });
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
      status: alreadySet ? 'already-updated' : 'updated',
      rotationId,
      previousFingerprint,
      durationsMs: { EdgeDeploy: Date.parse(deployedAt) - Date.parse(updatedAt) },
    };
  } catch (error) {
    const failure = summarizeError(error);
    const edgeUpdated =
      edgeHasNewKey === 'unknown' ? await mayHoldNewKey(event, deps) : edgeHasNewKey === 'yes';
    log.error('updating the edge failed', { rotationId, error: failure, edgeUpdated });
    await publishFailure(deps, {
      version: 1,
      rotationId,
      target,
      stage: 'edge',
      error: failure,
      newKey,
      edgeUpdated,
      rolledBack: false,
      failedAt: deps.clock.now().toISOString(),
      actor: deps.actor,
    });
    return { status: 'failed', rotationId, error: failure.name };
  }
}

/**
 * After a failure with the edge's state unknown (a write that failed oddly, or a redelivery
 * that failed before reading): does the distribution hold the new key? Only a read saying no,
 * or a distribution or origin that does not exist, lets the API side roll the key back.
 * Once the key was written, it stays "yes" whatever happens next: edge locations that
 * adopted it may send it until the next change has propagated.
 */
async function mayHoldNewKey(event: KeyCreated, deps: EdgeDeps): Promise<boolean> {
  try {
    const current = await deps.edge.readHeader(event.target);
    return current.fingerprint === event.newKey.fingerprint;
  } catch (error) {
    return !(error instanceof ResourceNotFoundError);
  }
}

/** Polls until the distribution is `Deployed` and sends the new key everywhere. */
async function waitForDeployed(event: KeyCreated, deps: EdgeDeps): Promise<void> {
  const started = deps.clock.now().getTime();
  for (;;) {
    const state = await deps.edge.deployment(event.target);
    if (state.deployed && state.fingerprint === event.newKey.fingerprint) return;
    if (state.fingerprint !== event.newKey.fingerprint) {
      // Someone replaced the header after us: never announce a key the edge does not send.
      throw new EdgeDriftError(
        event.target.distributionId,
        event.target.originId,
        event.target.headerName,
        state.fingerprint ?? 'none',
      );
    }
    const waited = deps.clock.now().getTime() - started;
    if (waited + deps.pollIntervalMs > deps.maxWaitMs) {
      throw new DeploymentTimeoutError(event.target.distributionId, waited / 1000);
    }
    await deps.clock.sleep(deps.pollIntervalMs);
  }
}
