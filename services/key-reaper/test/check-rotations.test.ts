import { issuerSent, reaperCompleted, useFakeWorld } from '../../../test/support/fakes';
import { ROTATION_ID, TARGET } from '../../../test/support/fixtures';
import { checkRotations } from '../src/check-rotations';

const world = useFakeWorld('key-reaper');
const deps = () => ({ ledger: world().ledger, clock: world().clock, log: world().logs.log });
const NEW_KEY = { id: 'newkey0001', fingerprint: 'aaaaaaaaaaaa' };

describe('checkRotations', () => {
  it('reports a target that never completed a rotation as of unknown key age', async () => {
    const [health] = await checkRotations([TARGET.name], deps());
    expect(health).toEqual({ target: TARGET.name, keyAgeDays: null, inFlightMinutes: 0 });
  });

  it('reports how long a rotation has held the lock', async () => {
    await issuerSent(world(), NEW_KEY, []);
    world().clock.advance(90 * 60_000);

    const [health] = await checkRotations([TARGET.name], deps());

    expect(health).toMatchObject({ inFlightMinutes: 90, inFlightRotationId: ROTATION_ID });
  });

  it('reports the key age from the last completed rotation, and no lock after it', async () => {
    await issuerSent(world(), NEW_KEY, []);
    await reaperCompleted(world(), NEW_KEY, []);
    world().clock.advance(32 * 86_400_000);

    const [health] = await checkRotations([TARGET.name], deps());

    expect(health).toEqual({ target: TARGET.name, keyAgeDays: 32, inFlightMinutes: 0 });
  });
});
