import { createHash } from 'node:crypto';
import {
  driftDecision,
  driftId,
  edgeExpectation,
  IntegrityError,
  isAcceptable,
  rotationContext,
  rotationState,
  stepsOf,
  summarizeError,
  type Actor,
  type Clock,
  type DriftResult,
  type EdgeHealed,
  type EdgeHealFailed,
  type EdgeObserved,
  type EventPublisher,
  type KeyRef,
  type KeySealer,
  type KeyStore,
  type KeyrotLogger,
  type Ledger,
  type Target,
} from '@keyrot/shared';

export interface DriftDeps {
  readonly keys: KeyStore;
  readonly ledger: Ledger;
  readonly events: EventPublisher;
  readonly sealer: KeySealer;
  readonly clock: Clock;
  readonly log: KeyrotLogger;
  readonly actor: Actor;
  /** The edge account's KMS key: a heal's key is sealed for it, as a rotation's new key is. */
  readonly edgeKmsKeyArn: string;
  /** The targets whose drift guard is on, by name (keyrot.targets.yml, this side's copy). */
  readonly targets: ReadonlyMap<string, Target>;
}

/** How much of a target's history the decision reads (newest first). */
const HISTORY_LIMIT = 100;

/**
 * The drift guard's decision on one `EdgeObserved` (shared/src/rotation/drift.ts): a key the
 * edge may send records nothing; anything else is a drift, recorded as DRIFT in a record of
 * its own (`drift_<time>_<digest>`) and counted as `EdgeDrift` (the handler's metric, per
 * target). When the observed key is not live on the target's usage plan and no rotation is in
 * flight, the current key is sealed for the edge as the issuer seals a new one and
 * `EdgeHealRequested` sent; the heal's result closes the record (HEALED or HEAL_FAILED).
 *
 * The target is this side's own copy (the event's only names it): a target whose drift guard
 * is off here is not judged, whatever the edge sent.
 */
export async function checkDrift(observed: EdgeObserved, deps: DriftDeps): Promise<DriftResult> {
  const target = deps.targets.get(observed.target.name);
  if (!target) return { status: 'no-drift', reason: 'guard-off' };
  const [history, lock] = await Promise.all([
    deps.ledger.history(target.name, HISTORY_LIMIT),
    deps.ledger.lockOf(target.name),
  ]);
  const inFlight = lock ? rotationState(await deps.ledger.timeline(lock.rotationId)) : undefined;
  const expectation = edgeExpectation(history, inFlight);
  const observation = { fingerprint: observed.fingerprint, observedAt: observed.observedAt };
  // Liveness only matters for a drift: a key the edge may send needs no API Gateway call.
  const live =
    expectation.current && !isAcceptable(expectation, observation)
      ? await isLive(target, observed.fingerprint, deps.keys)
      : true;
  const decision = driftDecision(expectation, observation, live, deps.clock.now());
  if (decision.action === 'none') return { status: 'no-drift', reason: decision.reason };

  const rotationId =
    decision.continues?.rotationId ??
    driftId(observed.observedAt, digest(target.name, observed.fingerprint, observed.observedAt));
  const step = stepsOf('key-reaper', { rotationId, target: target.name }, deps.actor, deps.clock);
  deps.log.appendKeys({ rotationId });
  deps.log.warn('edge drift: the edge does not send the current key', {
    target: target.name,
    observedFingerprint: observed.fingerprint,
    expectedFingerprint: decision.expected.fingerprint,
    observedKeyLive: decision.observedKeyLive,
    trigger: observed.trigger,
    heal: decision.heal,
  });
  let recorded = false;
  if (decision.record) {
    recorded = await deps.ledger.record(
      step('DRIFT', {
        observedFingerprint: observed.fingerprint,
        expectedFingerprint: decision.expected.fingerprint,
        trigger: observed.trigger,
        observedKeyLive: decision.observedKeyLive,
        observedAt: observed.observedAt,
        healing: decision.heal,
      }),
    );
  }
  if (decision.heal) {
    await requestHeal(rotationId, target, decision.expected, observed.fingerprint, deps);
  }
  return { status: 'drift', rotationId, heal: decision.heal, recorded };
}

/**
 * Seals the current key for the edge (KMS, the edge account's key, the encryption context
 * bound to the drift record and the key, as the issuer binds a new key to its rotation) and
 * asks the edge to put it back. The value goes from GetApiKey to KMS inside the adapters:
 * it is never logged or stored. A current key that can no longer be read (deleted by hand)
 * cannot heal anything: HEAL_FAILED, and the alarm stays for the operator.
 */
async function requestHeal(
  rotationId: string,
  target: Target,
  current: KeyRef,
  observedFingerprint: string | null,
  deps: DriftDeps,
): Promise<void> {
  const step = stepsOf('key-reaper', { rotationId, target: target.name }, deps.actor, deps.clock);
  let encryptedValue: string;
  try {
    const value = await deps.keys.getKeyValue(current.id);
    if (value.fingerprint !== current.fingerprint) {
      throw new IntegrityError('newKey', current.fingerprint, value.fingerprint);
    }
    encryptedValue = await deps.sealer.seal(
      deps.edgeKmsKeyArn,
      value,
      rotationContext(rotationId, target.name, current.id),
    );
  } catch (error) {
    const failure = summarizeError(error);
    if (failure.retryable) throw error; // Lambda's retry reads and seals again
    deps.log.error('cannot heal: the current key cannot be read', { rotationId, error: failure });
    await deps.ledger.record(step('HEAL_FAILED', { newKey: current, error: failure }));
    return;
  }
  await deps.events.publish('EdgeHealRequested', {
    version: 1,
    rotationId,
    target,
    newKey: current,
    supersededFingerprints: observedFingerprint === null ? [] : [observedFingerprint],
    encryptedValue,
    kmsKeyArn: deps.edgeKmsKeyArn,
    requestedAt: deps.clock.now().toISOString(),
  });
  deps.log.info('heal requested: the current key goes back to the edge', {
    rotationId,
    newKey: current,
  });
}

/**
 * Whether the key with this fingerprint is live for the target: on its usage plan (whose
 * keys GetUsagePlanKeys lists with their values, fingerprinted in the adapter: the same
 * 12 hex digits of SHA-256 the edge computes from the header), and enabled (GetApiKey).
 * No header is never live.
 */
export async function isLive(
  target: Pick<Target, 'usagePlanId'>,
  fingerprint: string | null,
  keys: Pick<KeyStore, 'listPlanKeys' | 'describeKey'>,
): Promise<boolean> {
  if (fingerprint === null) return false;
  const onPlan = (await keys.listPlanKeys(target.usagePlanId)).find(
    (k) => k.fingerprint === fingerprint,
  );
  if (!onPlan) return false;
  return (await keys.describeKey(onPlan.id))?.enabled === true;
}

/** Records a heal's result from the edge: HEALED or HEAL_FAILED, once, on its drift record. */
export async function recordHeal(
  event: EdgeHealed | EdgeHealFailed,
  deps: Pick<DriftDeps, 'ledger' | 'clock' | 'log' | 'actor'>,
): Promise<DriftResult> {
  const { rotationId, target } = event;
  const state = rotationState(await deps.ledger.timeline(rotationId));
  if (!state.has('DRIFT')) return { status: 'unknown-rotation', rotationId };
  if (state.has('HEALED') || state.has('HEAL_FAILED')) return { status: 'duplicate', rotationId };
  const step = stepsOf('key-reaper', { rotationId, target: target.name }, deps.actor, deps.clock);
  if ('deployedAt' in event) {
    await deps.ledger.record(
      step('HEALED', {
        newKey: event.newKey,
        previousFingerprint: event.previousFingerprint,
        updatedAt: event.updatedAt,
        at: event.deployedAt,
      }),
    );
    deps.log.info('healed', { rotationId, newKey: event.newKey });
    return { status: 'healed', rotationId };
  }
  await deps.ledger.record(
    step('HEAL_FAILED', { newKey: event.newKey, error: event.error, at: event.failedAt }),
  );
  deps.log.error('the edge could not heal', { rotationId, error: event.error });
  return { status: 'heal-failed', rotationId };
}

const digest = (...parts: (string | null)[]) =>
  createHash('sha256')
    .update(parts.map((p) => p ?? '-').join('\u0000'))
    .digest('hex');
