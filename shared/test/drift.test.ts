/**
 * The drift guard's decision (shared/src/rotation/drift.ts): which keys the edge may send from
 * a target's history and the rotation in flight, and what a drift leads to (recorded only,
 * healed, or nothing), with a negative control for each kind of check.
 */
import {
  driftDecision,
  edgeExpectation,
  recordsStep,
  refusalToRecord,
  rotationState,
  stepsOf,
  type StepRecord,
} from '../src';
import { FakeClock } from '../../test/support/fakes';
import { actor, API_ACCOUNT, TARGET } from '../../test/support/fixtures';

const CURRENT = { id: 'curkey0001', fingerprint: 'cccccccccccc' };
const OLD = { id: 'oldkey0001', fingerprint: 'bbbbbbbbbbbb' };
const NEXT = { id: 'nxtkey0001', fingerprint: 'dddddddddddd' };
const OTHER = 'eeeeeeeeeeee';
const clock = new FakeClock();
const by = actor(API_ACCOUNT, 'keyrot-key-reaper');
const stepsFor = (rotationId: string) =>
  stepsOf('key-reaper', { rotationId, target: TARGET.name }, by, clock);
const issuerFor = (rotationId: string) =>
  stepsOf('key-issuer', { rotationId, target: TARGET.name }, by, clock);

/** A target whose last rotation completed with CURRENT (superseding OLD). */
const completed: StepRecord[] = [
  stepsFor('rot_done_0001')('COMPLETED', {
    newKey: CURRENT,
    keys: [OLD],
    targetSpec: TARGET,
  }),
];
const observed = (fingerprint: string | null) => ({
  fingerprint,
  observedAt: clock.now().toISOString(),
});

describe('what the edge may send', () => {
  it('is the last completed rotation’s new key when nothing is in flight', () => {
    const e = edgeExpectation(completed);
    expect(e.current).toEqual(CURRENT);
    expect([...e.acceptable]).toEqual([CURRENT.fingerprint]);
    expect(e.inFlight).toBe(false);
  });

  it('is an adopted key when the adoption is newer than the last completion', () => {
    const adopted = stepsOf(
      'keyrot-cli',
      { rotationId: 'adopt_nxtkey0001', target: TARGET.name },
      by,
      clock,
    )('ADOPTED', {
      keys: [NEXT],
      keyName: 'legacy',
      targetSpec: TARGET,
      atEdge: true,
      forced: false,
      requestedBy: 'arn:aws:iam::111111111111:user/op',
    });
    expect(edgeExpectation([adopted, ...completed]).current).toEqual(NEXT);
  });

  it('includes the new key and the superseded keys of a rotation in flight', () => {
    const r = issuerFor('rot_flying_001');
    const flying = rotationState([
      r('REQUESTED', { reason: 'manual', targetSpec: TARGET }),
      r('KEYS_LISTED', { keys: [CURRENT] }),
      r('KEY_CREATED', { newKey: NEXT }),
      r('KEY_ASSOCIATED', { newKey: NEXT }),
      r('KEY_SENT', { newKey: NEXT, keys: [CURRENT] }),
    ]);
    const e = edgeExpectation(completed, flying);
    expect(e.inFlight).toBe(true);
    expect(e.acceptable.has(NEXT.fingerprint)).toBe(true);
    // keyrot's own write during a rotation is no drift
    expect(driftDecision(e, observed(NEXT.fingerprint), true, clock.now())).toEqual({
      action: 'none',
      reason: 'acceptable',
    });
    // control: without the rotation in flight the same header is a drift
    expect(
      driftDecision(edgeExpectation(completed), observed(NEXT.fingerprint), true, clock.now()),
    ).toMatchObject({ action: 'drift', record: true });
  });
});

describe('the decision', () => {
  const e = edgeExpectation(completed);

  it('records nothing when the edge sends the current key', () => {
    expect(driftDecision(e, observed(CURRENT.fingerprint), true, clock.now()).action).toBe('none');
  });

  it('heals a drift to a key that is not live (the deleted previous key)', () => {
    expect(driftDecision(e, observed(OLD.fingerprint), false, clock.now())).toEqual({
      action: 'drift',
      expected: CURRENT,
      observedKeyLive: false,
      record: true,
      heal: true,
    });
  });

  it('heals a missing header', () => {
    expect(driftDecision(e, observed(null), false, clock.now())).toMatchObject({ heal: true });
  });

  it('records and alarms, never overwrites, a drift to a live key', () => {
    expect(driftDecision(e, observed(OTHER), true, clock.now())).toMatchObject({
      action: 'drift',
      record: true,
      heal: false,
      observedKeyLive: true,
    });
  });

  it('does not heal while a rotation is in flight', () => {
    const r = issuerFor('rot_flying_002');
    const flying = rotationState([r('REQUESTED', { reason: 'manual', targetSpec: TARGET })]);
    expect(
      driftDecision(
        edgeExpectation(completed, flying),
        observed(OLD.fingerprint),
        false,
        clock.now(),
      ),
    ).toMatchObject({ action: 'drift', heal: false });
  });

  it('has nothing to compare with before the first rotation', () => {
    expect(driftDecision(edgeExpectation([]), observed(OTHER), false, clock.now())).toEqual({
      action: 'none',
      reason: 'no-current-key',
    });
  });

  it('continues an open drift record instead of recording the same drift again', () => {
    const drift = stepsFor('drift_20261203T000000Z_abcdef01')('DRIFT', {
      observedFingerprint: OTHER,
      expectedFingerprint: CURRENT.fingerprint,
      trigger: 'schedule',
      observedKeyLive: true,
      observedAt: clock.now().toISOString(),
      healing: false,
    });
    const open = edgeExpectation([drift, ...completed]);
    expect(open.openDrift).toEqual(drift);
    expect(driftDecision(open, observed(OTHER), true, clock.now())).toMatchObject({
      record: false,
      continues: drift,
    });
    // control: a different drift gets a record of its own
    expect(driftDecision(open, observed(OLD.fingerprint), false, clock.now())).toMatchObject({
      record: true,
      heal: true,
    });
    // a heal's result closes the record: the same drift again is a new one
    const healed = stepsFor(drift.rotationId)('HEALED', {
      newKey: CURRENT,
      previousFingerprint: OTHER,
      updatedAt: clock.now().toISOString(),
    });
    expect(edgeExpectation([healed, drift, ...completed]).openDrift).toBeUndefined();
  });
});

describe('who records the drift guard’s steps', () => {
  it('is the key-reaper, not the issuer or the CLI', () => {
    expect(recordsStep('key-reaper', 'DRIFT')).toBe(true);
    expect(recordsStep('key-issuer', 'DRIFT')).toBe(false);
    expect(recordsStep('keyrot-cli', 'HEALED')).toBe(false);
  });

  it('closes a drift record once: HEALED only after DRIFT, never after HEAL_FAILED', () => {
    const s = stepsFor('drift_20261203T000000Z_abcdef02');
    const healed = s('HEALED', {
      newKey: CURRENT,
      previousFingerprint: null,
      updatedAt: clock.now().toISOString(),
    });
    expect(refusalToRecord('key-reaper', healed, rotationState([]))).toBe('HEALED before DRIFT');
    const drift = s('DRIFT', {
      observedFingerprint: null,
      expectedFingerprint: CURRENT.fingerprint,
      trigger: 'cloudtrail',
      observedKeyLive: false,
      observedAt: clock.now().toISOString(),
      healing: true,
    });
    const failed = s('HEAL_FAILED', {
      newKey: CURRENT,
      error: { name: 'EdgeDriftError', message: 'changed again', retryable: false },
    });
    expect(refusalToRecord('key-reaper', healed, rotationState([drift]))).toBeUndefined();
    expect(refusalToRecord('key-reaper', healed, rotationState([drift, failed]))).toBe(
      'HEALED after HEAL_FAILED',
    );
  });
});
