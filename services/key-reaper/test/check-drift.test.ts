/**
 * The drift guard's liveness check (checkDrift's `isLive`): a key is live for a target when it
 * is on the target's usage plan (matched by fingerprint) and enabled. Deleted, disabled, off
 * the plan and "no header" are not live; each has a control that is.
 */
import type { KeyDescription, KeyStore, PlanKey } from '@keyrot/shared';
import { fingerprintOf } from '@keyrot/shared';
import { isLive } from '../src/check-drift';

const PLAN = 'plan01';
const ON_PLAN = { id: 'key0000001', name: 'target', fingerprint: fingerprintOf('value-one') };
const DISABLED = { id: 'key0000002', name: 'target', fingerprint: fingerprintOf('value-two') };

/** Two keys on the plan, one of them disabled; a third key exists, off the plan. */
const keys: Pick<KeyStore, 'listPlanKeys' | 'describeKey'> = {
  listPlanKeys: async (plan: string): Promise<PlanKey[]> =>
    plan === PLAN ? [ON_PLAN, DISABLED] : [],
  describeKey: async (id: string): Promise<KeyDescription | undefined> =>
    id === ON_PLAN.id || id === DISABLED.id
      ? { id, name: 'target', enabled: id === ON_PLAN.id, tags: {} }
      : undefined,
};

describe('whether the edge sends a live key', () => {
  it('is live: on the plan and enabled (the control of the cases below)', async () => {
    expect(await isLive({ usagePlanId: PLAN }, ON_PLAN.fingerprint, keys)).toBe(true);
  });

  it('is not live: a disabled key', async () => {
    expect(await isLive({ usagePlanId: PLAN }, DISABLED.fingerprint, keys)).toBe(false);
  });

  it('is not live: a deleted key or one that is not on the plan', async () => {
    expect(await isLive({ usagePlanId: PLAN }, fingerprintOf('deleted'), keys)).toBe(false);
    expect(await isLive({ usagePlanId: 'other-plan' }, ON_PLAN.fingerprint, keys)).toBe(false);
  });

  it('is not live: no header at all', async () => {
    expect(await isLive({ usagePlanId: PLAN }, null, keys)).toBe(false);
  });
});
