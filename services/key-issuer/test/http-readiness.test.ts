import { KeyNotAcceptedError, SecretValue } from '@keyrot/shared';
import { HttpReadinessProbe } from '../src/adapters/http-readiness';
import { FakeClock } from '../../../test/support/fakes';

const HEALTH_URL = 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod/health';
const VALUE = 'PROBEkeyVALUE000000000000000000000000000';

let clock: FakeClock;
let fetchMock: jest.SpiedFunction<typeof fetch>;

/** Answers the probe's requests with these statuses in turn (0 = network error). */
function answers(...statuses: number[]) {
  for (const status of statuses) {
    if (status === 0) fetchMock.mockRejectedValueOnce(new TypeError('fetch failed'));
    else fetchMock.mockResolvedValueOnce(new Response(null, { status }));
  }
}

beforeEach(() => {
  clock = new FakeClock();
  fetchMock = jest.spyOn(globalThis, 'fetch');
});

afterEach(() => {
  fetchMock.mockRestore();
});

describe('HttpReadinessProbe', () => {
  it('returns as soon as the stage accepts the key, sending it in the configured header', async () => {
    answers(200);
    const probe = new HttpReadinessProbe(HEALTH_URL, 'x-api-key', 60_000, clock);

    await probe.waitUntilAccepted(new SecretValue(VALUE));

    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(fetchMock).toHaveBeenCalledWith(HEALTH_URL, { headers: { 'x-api-key': VALUE } });
    expect(clock.slept).toBe(0);
  });

  it('asks again at the interval while API Gateway still refuses the new key', async () => {
    answers(403, 403, 0, 204);
    const probe = new HttpReadinessProbe(HEALTH_URL, 'x-api-key', 60_000, clock, 1000);

    await probe.waitUntilAccepted(new SecretValue(VALUE));

    expect(fetchMock).toHaveBeenCalledTimes(4);
    expect(clock.sleeps).toEqual([1000, 1000, 1000]);
  });

  it('gives up after the timeout with KeyNotAcceptedError naming the last status', async () => {
    fetchMock.mockImplementation(async () => new Response(null, { status: 403 }));
    const probe = new HttpReadinessProbe(HEALTH_URL, 'x-api-key', 5000, clock, 1000);

    const error = await probe.waitUntilAccepted(new SecretValue(VALUE)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(KeyNotAcceptedError);
    expect((error as KeyNotAcceptedError).field).toBe('HEALTH_CHECK_URL');
    expect((error as Error).message).toContain('403');
    expect((error as Error).message).not.toContain(VALUE);
    expect(clock.slept).toBeLessThanOrEqual(5000);
    expect(fetchMock.mock.calls.length).toBeGreaterThan(1);
  });
});
