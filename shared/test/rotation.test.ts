/**
 * The rotation protocol (shared/src/rotation): the state of a rotation from its steps, who may
 * record what, each service's decision, the typed metric map, legacy entries, and the lease.
 */
import {
  adoptionCandidates,
  adoptionId,
  closeAction,
  invocationOf,
  issuerAction,
  mayRollBack,
  OUTCOME_METRICS,
  KEY_TAGS,
  recordsStep,
  refusalToRecord,
  STEP_RULES,
  supersededKeys,
  retireAction,
  rotationState,
  stepsOf,
  storedStep,
  withLease,
  type KeyTags,
  type Step,
  type StepRecord,
} from '../src';
import { FakeClock, FakeLedger } from '../../test/support/fakes';
import { actor, API_ACCOUNT, ROTATION_ID, TARGET } from '../../test/support/fixtures';
import { captureLogger } from '../../test/support/fakes';

const NEW_KEY = { id: 'newkey0001', fingerprint: 'aaaaaaaaaaaa' };
const OLD_KEY = { id: 'oldkey0001', fingerprint: 'bbbbbbbbbbbb' };
const clock = new FakeClock();
const about = { rotationId: ROTATION_ID, target: TARGET.name };
const issuer = stepsOf('key-issuer', about, actor(API_ACCOUNT, 'keyrot-key-issuer'), clock);
const reaper = stepsOf('key-reaper', about, actor(API_ACCOUNT, 'keyrot-key-reaper'), clock);

/** The steps of a rotation up to and including `last`, as the services record them. */
function upTo(last: StepRecord['step']): StepRecord[] {
  const all: StepRecord[] = [
    issuer('REQUESTED', { reason: 'scheduled', targetSpec: TARGET }),
    issuer('KEYS_LISTED', { keys: [OLD_KEY] }),
    issuer('KEY_CREATED', { newKey: NEW_KEY }),
    issuer('KEY_ASSOCIATED', { newKey: NEW_KEY }),
    issuer('KEY_SENT', { newKey: NEW_KEY, keys: [OLD_KEY] }),
    reaper('EDGE_UPDATED', {
      newKey: NEW_KEY,
      updatedAt: clock.now().toISOString(),
      previousFingerprint: OLD_KEY.fingerprint,
    }),
    reaper('KEYS_RETIRED', {
      newKey: NEW_KEY,
      keys: [OLD_KEY],
      previousFingerprint: null,
      protected: 0,
      graceSeconds: 60,
    }),
    reaper('COMPLETED', { newKey: NEW_KEY, keys: [OLD_KEY], targetSpec: TARGET }),
  ];
  return all.slice(0, all.findIndex((s) => s.step === last) + 1);
}

describe('rotationState', () => {
  it.each([
    ['REQUESTED', 'issuing', false],
    ['KEY_CREATED', 'issuing', false],
    ['KEY_SENT', 'at-edge', true],
    ['EDGE_UPDATED', 'retiring', true],
    ['COMPLETED', 'ended', true],
  ] as const)('after %s: phase %s, new key may be at the edge: %s', (last, phase, atEdge) => {
    const state = rotationState(upTo(last));
    expect(state.phase).toBe(phase);
    expect(state.newKeyMayBeAtEdge).toBe(atEdge);
  });

  it('names the new key and the superseded keys, in any order of steps', () => {
    const state = rotationState([...upTo('KEY_SENT')].reverse());
    expect(state).toMatchObject({ newKey: NEW_KEY, supersededKeys: [OLD_KEY] });
    expect(state.lastStep?.step).toBe('KEY_SENT');
  });

  it('lowers "may be at the edge" only for a failure that says so', () => {
    const failed = (newKeyMayBeAtEdge: boolean) =>
      issuer('FAILED', {
        stage: 'issue',
        error: { name: 'PublishError', message: 'refused', retryable: false },
        rolledBack: false,
        newKeyMayBeAtEdge,
      });
    expect(rotationState([...upTo('KEY_SENT'), failed(false)]).newKeyMayBeAtEdge).toBe(false);
    expect(rotationState([...upTo('KEY_SENT'), failed(true)]).newKeyMayBeAtEdge).toBe(true);
    expect(rotationState([]).phase).toBe('none');
  });
});

describe('who records what', () => {
  it('allows every step of a rotation in its order', () => {
    const steps = upTo('COMPLETED');
    steps.forEach((step, i) => {
      expect(refusalToRecord('any', step, rotationState(steps.slice(0, i)))).toBeUndefined();
    });
  });

  it('refuses a step out of order, after the outcome, or by the wrong service', () => {
    const completed = reaper('COMPLETED', { newKey: NEW_KEY, keys: [], targetSpec: TARGET });
    expect(refusalToRecord('any', completed, rotationState(upTo('EDGE_UPDATED')))).toBe(
      'COMPLETED before KEYS_RETIRED',
    );
    const created = issuer('KEY_CREATED', { newKey: NEW_KEY });
    expect(refusalToRecord('any', created, rotationState(upTo('COMPLETED')))).toBe(
      'KEY_CREATED after COMPLETED',
    );
    const rollback = reaper('ROLLED_BACK', { newKey: NEW_KEY, keys: [NEW_KEY] });
    expect(refusalToRecord('key-reaper', rollback, rotationState(upTo('EDGE_UPDATED')))).toBe(
      'ROLLED_BACK after EDGE_UPDATED',
    );
    expect(refusalToRecord('key-reaper', created, rotationState(upTo('KEYS_LISTED')))).toBe(
      'key-reaper does not record KEY_CREATED',
    );
    expect(() => reaper('KEY_CREATED', { newKey: NEW_KEY })).toThrow(
      'protocol: key-reaper does not record KEY_CREATED',
    );
  });
});

describe('ADOPTED (keyrot adopt)', () => {
  const cli = stepsOf(
    'keyrot-cli',
    { rotationId: adoptionId('handkey001'), target: TARGET.name },
    actor(API_ACCOUNT, 'keyrot-cli'),
    clock,
  );
  const adopted = () =>
    cli('ADOPTED', {
      keys: [OLD_KEY],
      keyName: 'hand-made',
      targetSpec: TARGET,
      atEdge: true,
      forced: false,
      requestedBy: 'arn:aws:iam::111111111111:user/ops',
    });

  it('is recorded by the CLI only, in a record of its own', () => {
    expect(adoptionId('handkey001')).toBe('adopt_handkey001');
    expect(adopted()).toMatchObject({ step: 'ADOPTED', rotationId: 'adopt_handkey001' });
    expect(refusalToRecord('keyrot-cli', adopted(), rotationState([]))).toBeUndefined();
    expect(refusalToRecord('key-issuer', adopted(), rotationState([]))).toBe(
      'key-issuer does not record ADOPTED',
    );
    expect(refusalToRecord('key-reaper', adopted(), rotationState([]))).toBe(
      'key-reaper does not record ADOPTED',
    );
    expect(() => issuer('ADOPTED', adopted())).toThrow(
      'protocol: key-issuer does not record ADOPTED',
    );
    // Never inside a rotation's record.
    expect(refusalToRecord('keyrot-cli', adopted(), rotationState(upTo('REQUESTED')))).toBe(
      'ADOPTED after REQUESTED',
    );
  });

  it('the CLI records nothing but ADOPTED: no rotation step, no rejection', () => {
    const steps = Object.keys(STEP_RULES) as Step[];
    expect(steps.filter((s) => recordsStep('keyrot-cli', s))).toEqual(['ADOPTED']);
    expect(() => cli('COMPLETED', { newKey: NEW_KEY, keys: [], targetSpec: TARGET })).toThrow(
      'protocol: keyrot-cli does not record COMPLETED',
    );
    // The services still record REJECTED ('any').
    expect(recordsStep('key-issuer', 'REJECTED')).toBe(true);
    expect(recordsStep('key-reaper', 'REJECTED')).toBe(true);
  });

  it('opens no rotation: its record has no phase past none', () => {
    expect(rotationState([adopted()])).toMatchObject({ phase: 'none', supersededKeys: [] });
  });
});

describe('the supersede rule', () => {
  const plan = [
    { id: 'ownkey0001', name: TARGET.apiKeyName, fingerprint: '111111111111' },
    { id: 'seedkey001', name: TARGET.apiKeyName, fingerprint: '222222222222' },
    { id: 'handkey001', name: 'hand-made', fingerprint: '333333333333' },
    { id: 'partner001', name: 'partner-client-key', fingerprint: '444444444444' },
    { id: 'otherkey01', name: 'other-name', fingerprint: '555555555555' },
    { id: 'newkey0001', name: TARGET.apiKeyName, fingerprint: 'aaaaaaaaaaaa' },
  ];
  const tagsFor = (target: string) => ({ [KEY_TAGS.managed]: 'true', [KEY_TAGS.target]: target });

  it("supersedes the target's name and the keys adopted for it, never the new key", () => {
    const tags = new Map<string, KeyTags>([
      ['handkey001', tagsFor(TARGET.name)],
      ['partner001', { owner: 'partner' }],
      ['otherkey01', tagsFor('another-target')],
    ]);
    expect(supersededKeys(TARGET, plan, tags, 'newkey0001').map((k) => k.id)).toEqual([
      'ownkey0001',
      'seedkey001',
      'handkey001',
    ]);
  });

  it('never supersedes a key of another name without both tags of the target', () => {
    const cases: KeyTags[] = [
      {},
      { [KEY_TAGS.target]: TARGET.name },
      { [KEY_TAGS.managed]: 'true' },
      { [KEY_TAGS.managed]: 'false', [KEY_TAGS.target]: TARGET.name },
      tagsFor('another-target'),
    ];
    for (const tags of cases) {
      const ids = supersededKeys(TARGET, plan, new Map([['handkey001', tags]])).map((k) => k.id);
      expect(ids).not.toContain('handkey001');
    }
  });

  it('reads tags only of the adopted keys of another name that are on the plan', () => {
    expect(adoptionCandidates(TARGET, plan, ['handkey001', 'seedkey001', 'gonekey001'])).toEqual([
      'handkey001',
    ]);
    expect(adoptionCandidates(TARGET, plan, [])).toEqual([]);
  });
});

describe('decisions', () => {
  it('issuer: begin, resume, done, and announce again only after taking over from a dead run', () => {
    expect(issuerAction(rotationState([]), false)).toBe('begin');
    expect(issuerAction(rotationState(upTo('KEY_CREATED')), false)).toBe('resume');
    expect(issuerAction(rotationState(upTo('KEY_SENT')), false)).toBe('done');
    expect(issuerAction(rotationState(upTo('KEY_SENT')), true)).toBe('announce-again');
    expect(issuerAction(rotationState(upTo('EDGE_UPDATED')), true)).toBe('done');
  });

  it('reaper: retire once; announce KeyRetired again only after taking over', () => {
    expect(retireAction(rotationState(upTo('KEY_CREATED')), false)).toBe('unknown-rotation');
    expect(retireAction(rotationState(upTo('KEY_SENT')), false)).toBe('retire');
    expect(retireAction(rotationState(upTo('COMPLETED')), false)).toBe('duplicate');
    expect(retireAction(rotationState(upTo('COMPLETED')), true)).toBe('announce-again');
    expect(closeAction(rotationState(upTo('COMPLETED')))).toBe('duplicate');
    expect(closeAction(rotationState(upTo('KEY_SENT')))).toBe('close');
  });

  it('never rolls back a key the edge may send', () => {
    const sent = rotationState(upTo('KEY_SENT'));
    expect(mayRollBack(sent, { newKeyMayBeAtEdge: false })).toBe(true);
    expect(mayRollBack(sent, { newKeyMayBeAtEdge: true })).toBe(false);
    expect(mayRollBack(rotationState(upTo('EDGE_UPDATED')), { newKeyMayBeAtEdge: false })).toBe(
      false,
    );
  });

  it('maps every result status to a metric or to none', () => {
    expect(OUTCOME_METRICS.sent).toBe('RotationsStarted');
    expect(OUTCOME_METRICS['rolled-back']).toBe('RotationsFailed');
    expect(OUTCOME_METRICS.deploying).toBeNull();
  });
});

describe('storedStep', () => {
  it('reads an entry written with a facts map as the typed step', () => {
    const legacy = storedStep({
      ...issuer('REQUESTED', { reason: 'manual', targetSpec: TARGET }),
      step: 'FAILED',
      error: { name: 'EdgeDriftError', message: 'drift', retryable: false },
      facts: { stage: 'edge', rolledBack: true },
    });
    expect(legacy).toMatchObject({ stage: 'edge', rolledBack: true, newKeyMayBeAtEdge: false });
    expect(legacy).not.toHaveProperty('facts');
    const kept = storedStep({
      ...legacy,
      newKey: NEW_KEY,
      rolledBack: false,
      newKeyMayBeAtEdge: undefined,
    });
    expect(kept).toMatchObject({ newKeyMayBeAtEdge: true });
  });
});

describe('withLease', () => {
  const deps = (ledger: FakeLedger, c = new FakeClock()) => ({
    ledger,
    clock: c,
    log: captureLogger('test').log,
    invocation: invocationOf(c, undefined, 120_000),
  });

  it('lets one of two concurrent runs act at a time; the second finds the first one done', async () => {
    const ledger = new FakeLedger();
    // One clock for both; a sleep lets the other run go on before time moves.
    const shared = new FakeClock();
    const ticking = Object.assign(shared, {
      sleep: async (ms: number) => {
        await new Promise((resolve) => setImmediate(resolve));
        shared.advance(ms);
      },
    });
    const order: string[] = [];
    let release!: () => void;
    const first = withLease(about, deps(ledger, ticking), async (takenOver) => {
      order.push(`first starts (taken over: ${takenOver})`);
      await new Promise<void>((resolve) => (release = resolve));
      order.push('first ends');
    });
    const second = withLease(about, deps(ledger, ticking), async () => {
      order.push('second starts');
    });
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['first starts (taken over: false)', 'first ends', 'second starts']);
    expect(ledger.leases.size).toBe(0);
  });

  it('hands the lease over on an error, so the next run resumes at once (taken over)', async () => {
    const ledger = new FakeLedger();
    await expect(
      withLease(about, deps(ledger), async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(withLease(about, deps(ledger), async (takenOver) => takenOver)).resolves.toBe(
      true,
    );
  });

  it('takes over a lease whose holder died, once it expired; a live one it waits out or gives up on', async () => {
    const ledger = new FakeLedger();
    const c = new FakeClock();
    await ledger.claim(
      { ...about, owner: 'dead', expiresAt: new Date(c.now().getTime() + 60_000).toISOString() },
      c.now().toISOString(),
    );
    // This run may wait 120 s: the lease expires after 60 s, then it takes over.
    await expect(withLease(about, deps(ledger, c), async (t) => t)).resolves.toBe(true);
    await ledger.claim(
      { ...about, owner: 'alive', expiresAt: new Date(c.now().getTime() + 600_000).toISOString() },
      c.now().toISOString(),
    );
    await expect(withLease(about, deps(ledger, c), async () => 'acted')).rejects.toMatchObject({
      name: 'RotationBusyError',
      retryable: true,
    });
  });
});
