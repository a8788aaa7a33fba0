/**
 * The benchmark's smoke run (`npm run bench -- --smoke` does the same): every part runs on
 * tiny sizes so it cannot rot. Asserts outcomes only; the timings are the benchmark's, not
 * the test's.
 */
import { runBench, SMOKE } from '../../bench/run';

jest.setTimeout(180_000);

describe('npm run bench -- --smoke', () => {
  it('measures every figure, and keyrot fails no request where the seed baseline does', async () => {
    const results = await runBench(SMOKE);

    expect(results.callsPerRotation.APIGateway).toMatchObject({ CreateApiKey: 1, DeleteApiKey: 1 });
    expect(results.callsPerRotation.CloudFront).toMatchObject({ UpdateDistribution: 1 });
    expect(results.dynamoDbUnitsPerRotation.writeUnits).toBeGreaterThan(0);
    for (const service of ['key-issuer', 'edge-updater', 'key-reaper']) {
      expect(results.bundleBytes[service]!.ratio).toBeLessThanOrEqual(0.6);
      expect((results.coldInitMs as Record<string, unknown>)[service]).toBeDefined();
    }
    expect(results.quotas).toMatchObject({
      apiGatewayTotalPerSecond: 10,
      apiGatewayTotalBurst: 40,
      createApiKeyPerSecond: 5,
      deleteApiKeyPerSecond: 5,
    });
    expect(results.quotas.keyrotShare).toBeLessThanOrEqual(0.5);
    expect(results.apiGatewayCallsPerRotation).toBe(
      Object.values(results.callsPerRotation.APIGateway!).reduce((a, b) => a + b, 0),
    );
    // Paced, no call is refused, keyrot's or the owner's, and every rotation completes.
    expect(
      results.scale.map((s) => [s.targets, s.failures, s.throttledCalls, s.ownerThrottledCalls]),
    ).toEqual(SMOKE.scale.map((run) => [run.targets, 0, 0, 0]));
    const withOwner = results.scale.find((s) => 'ownerCalls' in s);
    expect(withOwner).toMatchObject({ ownerFailedCalls: 0 });
    // The floor is what the quotas and keyrot's share allow: no run beats it.
    for (const s of results.scale) expect(s.wallSeconds).toBeGreaterThanOrEqual(s.idealSeconds);
    const { keyrot, seedBaseline } = results.traffic;
    expect(keyrot.failedRequests).toBe(0);
    expect(keyrot.requests).toBeGreaterThan(0);
    expect(keyrot.partner).toMatchObject({ failedRequests: 0 });
    expect(keyrot.partner.requests).toBeGreaterThan(0);
    // The seed deletes the key it was built for (the edge's, listed first), not the partner's.
    expect(seedBaseline).toMatchObject({ oldKeyDeleted: true, otherClientKeyDeleted: false });
    expect(seedBaseline.failedRequests).toBeGreaterThan(0);
    expect(seedBaseline.outageSeconds).toBeGreaterThan(0);
    // Listed first, the partner's key is the one it deletes, and the partner's requests fail.
    expect(seedBaseline.otherClientKeyFirst).toMatchObject({
      edgeKeyDeleted: false,
      otherClientKeyDeleted: true,
    });
    expect(seedBaseline.otherClientKeyFirst.partner.failedRequests).toBeGreaterThan(0);
  });
});
