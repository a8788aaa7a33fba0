import {
  adoptionCandidates,
  issuerAction,
  KEY_TAGS,
  publishFailure,
  rotationState,
  ROTATION_FAILED_VERSION,
  stepsOf,
  supersededKeys,
  withLease,
  PublishError,
  retryDelayAfterMs,
  tryLater,
  rotationContext,
  summarizeError,
  type Actor,
  type Clock,
  type EventPublisher,
  type Invocation,
  type IssueResult,
  type KeyRef,
  type KeySealer,
  type KeyTags,
  type KeyStore,
  type KeyrotLogger,
  type Ledger,
  type RotationReason,
  type RotationState,
  type SecretValue,
  type Target,
} from '@keyrot/shared';

export type { IssueResult } from '@keyrot/shared';

/** Confirms API Gateway accepts a new key before the edge is told to send it. */
export interface KeyReadiness {
  /** Resolves once the target's API accepts `value` (a target with no probe resolves at once). */
  waitUntilAccepted(value: SecretValue, target: Target): Promise<void>;
}

export interface IssuerDeps {
  readonly keys: KeyStore;
  readonly sealer: KeySealer;
  readonly ledger: Ledger;
  readonly events: EventPublisher;
  readonly clock: Clock;
  readonly log: KeyrotLogger;
  readonly actor: Actor;
  /** ARN of the edge account's KMS key the value is sealed with. */
  readonly edgeKmsKeyArn: string;
  /** How long a lock protects a rotation before another request may take it over. */
  readonly lockSeconds: number;
  readonly readiness?: KeyReadiness;
  /** This invocation, for the rotation's lease (the handler makes it from Lambda's context). */
  readonly invocation: Invocation;
  /**
   * Delivers a request again later, after a transient failure. Without it, such a failure
   * ends the rotation FAILED at once.
   */
  readonly retries?: RequestRetries;
}

/** Port: a later delivery of the same request (same rotation id), which resumes it. */
export interface RequestRetries {
  retry(request: IssueRequest, at: Date): Promise<'scheduled' | 'already-scheduled'>;
}

export interface IssueRequest {
  readonly rotationId: string;
  readonly target: Target;
  readonly reason: RotationReason;
  /** Who asked, as the request says (the CLI puts the caller's IAM ARN); recorded for audit. */
  readonly requestedBy?: string;
  /** Id of the EventBridge event that carried the request (to trace it in CloudTrail). */
  readonly eventId?: string;
}

/**
 * The issuer's half of a rotation: lock the target, list the plan's keys (those it supersedes:
 * the target's name, and keys adopted for it, see `supersededKeys`), create the new key
 * (tagged as keyrot's), add it to the plan, confirm it is accepted, seal its value for the
 * edge account and announce `KeyCreated`. All of it under the rotation's lease, so of
 * concurrent duplicate requests one acts and the others find its work done. Resumable: a
 * request redelivered after a crash continues from the last step in the ledger and never
 * creates a second key. On failure before the announcement the new key is removed again,
 * the lock released and `RotationFailed` emitted.
 */
export async function issueKey(request: IssueRequest, deps: IssuerDeps): Promise<IssueResult> {
  const { rotationId, target } = request;
  return withLease({ rotationId, target: target.name }, deps, async (takenOver) => {
    const state = rotationState(await deps.ledger.timeline(rotationId));
    const action = issuerAction(state, takenOver);
    if (action === 'done') {
      deps.log.info('duplicate request: rotation already past the issuer', {
        rotationId,
        phase: state.phase,
      });
      return { status: 'duplicate', rotationId };
    }
    if (action === 'begin') {
      const step = stepsOf(
        'key-issuer',
        { rotationId, target: target.name },
        deps.actor,
        deps.clock,
      );
      const begun = await deps.ledger.begin(
        step('REQUESTED', {
          reason: request.reason,
          targetSpec: target,
          ...requestFields(request),
        }),
        deps.lockSeconds,
      );
      if (begun.status === 'refused') {
        deps.log.warn('rotation refused: target locked', {
          rotationId,
          lockedBy: begun.holder.rotationId,
        });
        return { status: 'refused', rotationId, lockedBy: begun.holder.rotationId };
      }
    }
    return issue(request, state, deps);
  });
}

/** The issuer's steps from `state` on, by the one invocation holding the rotation's lease. */
async function issue(
  request: IssueRequest,
  state: RotationState,
  deps: IssuerDeps,
): Promise<IssueResult> {
  const { rotationId, target } = request;
  const { ledger, keys, log } = deps;
  const step = stepsOf('key-issuer', { rotationId, target: target.name }, deps.actor, deps.clock);
  const resuming = state.has('REQUESTED');
  let newKey: KeyRef | undefined;
  let announced = false;
  try {
    const planKeys = await keys.listPlanKeys(target.usagePlanId);
    const created = state.newKey ?? (resuming ? await findOwnKey(request, keys) : undefined);
    const superseded = supersededKeys(
      target,
      planKeys,
      await adoptedTags(target, planKeys, deps),
      created?.id,
    );
    await ledger.record(step('KEYS_LISTED', { keys: superseded }));

    let value: SecretValue;
    if (created) {
      value = await keys.getKeyValue(created.id);
      newKey = { id: created.id, fingerprint: value.fingerprint };
    } else {
      const made = await keys.createKey(target.apiKeyName, {
        [KEY_TAGS.managed]: 'true',
        [KEY_TAGS.target]: target.name,
        [KEY_TAGS.rotation]: rotationId,
      });
      value = made.value;
      newKey = { id: made.id, fingerprint: value.fingerprint };
    }
    await ledger.record(step('KEY_CREATED', { newKey }));

    await keys.addToPlan(target.usagePlanId, newKey.id);
    await ledger.record(step('KEY_ASSOCIATED', { newKey }));

    if (deps.readiness) {
      await deps.readiness.waitUntilAccepted(value, target);
      await ledger.record(step('KEY_READY', { newKey }));
    }

    const encryptedValue = await deps.sealer.seal(
      deps.edgeKmsKeyArn,
      value,
      rotationContext(rotationId, target.name, newKey.id),
    );
    // Recorded before the announcement: the edge and the reaper may act on KeyCreated
    // before this function returns, and the reaper needs the recorded step.
    await ledger.record(step('KEY_SENT', { newKey, keys: superseded }));
    announced = true;
    await deps.events.publish('KeyCreated', {
      version: 1,
      rotationId,
      target,
      newKey,
      supersededKeys: superseded,
      encryptedValue,
      kmsKeyArn: deps.edgeKmsKeyArn,
      issuedAt: deps.clock.now().toISOString(),
    });
    log.info('new key announced to the edge', { rotationId, newKey, superseded });
    return { status: 'sent', rotationId, newKey, supersededKeys: superseded };
  } catch (error) {
    // Before the announcement, a transient failure is tried again later: the retry resumes
    // from the ledger (the key already made is reused), so nothing is undone meanwhile.
    if (!announced && !state.has('KEY_SENT')) {
      const later = await retryLater(request, state, error, deps);
      if (later) return later;
    }
    // Once KeyCreated may have reached the edge (now, or in an earlier delivery of this
    // request), the new key may be in use: keep it.
    const refused = error instanceof PublishError && error.notPublished;
    const newKeyMayBeAtEdge = state.newKeyMayBeAtEdge || (announced && !refused);
    const failure = summarizeError(error);
    log.error('issuing the new key failed', { rotationId, error: failure, newKey });
    let rolledBack = false;
    if (newKey && !newKeyMayBeAtEdge) {
      rolledBack = (await keys.deleteKey(newKey.id).catch(() => 'kept')) !== 'kept';
      if (rolledBack) await ledger.record(step('ROLLED_BACK', { newKey, keys: [newKey] }));
    }
    await ledger.finish(
      step('FAILED', {
        stage: 'issue',
        error: failure,
        rolledBack,
        newKeyMayBeAtEdge,
        ...(newKey && { newKey }),
      }),
    );
    await publishFailure(deps, {
      version: ROTATION_FAILED_VERSION,
      rotationId,
      target,
      stage: 'issue',
      error: failure,
      ...(newKey && { newKey }),
      newKeyMayBeAtEdge,
      rolledBack,
      failedAt: deps.clock.now().toISOString(),
      actor: deps.actor,
    });
    return { status: 'failed', rotationId, error: failure.name };
  }
}

/**
 * Schedules the request's next delivery after a transient failure, while the rotation has
 * time left (half its lock, so the edge and the reaper keep the other half); undefined (the
 * caller fails the rotation) for a permanent cause, without a scheduler, or past that.
 */
async function retryLater(
  request: IssueRequest,
  state: RotationState,
  error: unknown,
  deps: IssuerDeps,
): Promise<IssueResult | undefined> {
  const failure = summarizeError(error);
  if (!failure.retryable || !deps.retries) return undefined;
  const { retries } = deps;
  const now = deps.clock.now().getTime();
  const requestedAt = state.requested ? Date.parse(state.requested.at) : now;
  const at = new Date(now + retryDelayAfterMs(now - requestedAt));
  const scheduled = await tryLater({
    rotationId: request.rotationId,
    error: failure,
    what: 'issuing',
    at,
    deadline: requestedAt + (deps.lockSeconds * 1000) / 2,
    log: deps.log,
    schedule: () => retries.retry(request, at),
  });
  return scheduled
    ? { status: 'retrying', rotationId: request.rotationId, error: failure.name }
    : undefined;
}

/** Who asked for the rotation and with which event, when known. */
function requestFields({ requestedBy, eventId }: IssueRequest) {
  return { ...(requestedBy !== undefined && { requestedBy }), ...(eventId && { eventId }) };
}

/**
 * Tags of the plan's keys the operator adopted for the target under another name (the ledger
 * names them; API Gateway's tags decide): what the supersede rule needs besides names.
 */
async function adoptedTags(
  target: Target,
  planKeys: Parameters<typeof supersededKeys>[1],
  deps: Pick<IssuerDeps, 'keys' | 'ledger'>,
): Promise<Map<string, KeyTags>> {
  const tags = new Map<string, KeyTags>();
  const candidates = adoptionCandidates(
    target,
    planKeys,
    await deps.ledger.adoptedKeys(target.name),
  );
  for (const id of candidates) {
    const key = await deps.keys.describeKey(id);
    if (key) tags.set(id, key.tags);
  }
  return tags;
}

/** A key this rotation created before a crash, found by its rotation tag. */
async function findOwnKey(request: IssueRequest, keys: KeyStore) {
  const named = await keys.listKeysNamed(request.target.apiKeyName);
  return named.find((k) => k.tags[KEY_TAGS.rotation] === request.rotationId);
}
