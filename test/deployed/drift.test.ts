/**
 * The drift guard through the deployed stacks (issue 15, proofs 2 and 3): after a rotation, a
 * direct `UpdateDistribution` by someone other than keyrot, through the front before moto
 * (which records it as CloudTrail would: moto has none, harness/deployed/aws-front.ts), reaches
 * the deployed CloudTrail rule on the edge account's default bus and the packaged checkEdge,
 * then checkDrift in the API account, each with its deployed role (0 denied calls).
 * (2) A revert to the deleted previous key is healed without an operator: DRIFT and HEALED in
 * the ledger, the EdgeDrift metric, the edge sends the current key again.
 * (3) A change to another live key (the other client's) is recorded and counted, never
 * overwritten.
 */
import { APIGatewayClient, GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { fingerprintOf, type StepOf, type StepRecord } from '@keyrot/shared';
import { clientConfig } from '../../harness/accounts';
import {
  ledgerOf,
  readEdge,
  rotationIds,
  setEdgeHeaderAsOperator,
  TARGET_NAME,
} from '../../harness/inspect';
import { useDeployedStacks, type DeployedFixture } from '../support/deployed';

jest.setTimeout(180_000);

/** Sets the target's header as an operator would, through the front (not as keyrot). */
const setHeader = ({ runner, deployed }: DeployedFixture, value: string) =>
  setEdgeHeaderAsOperator(deployed.world, runner.front.endpoint, value);

const history = (fixture: DeployedFixture): Promise<StepRecord[]> =>
  ledgerOf(fixture.deployed.world).history(TARGET_NAME);
const driftsOf = (steps: readonly StepRecord[]) =>
  steps.filter((s): s is StepOf<'DRIFT'> => s.step === 'DRIFT');

/** Whether the packaged checkDrift emitted EdgeDrift for the target (EMF in its log). */
function edgeDriftEmitted(fixture: DeployedFixture): boolean {
  return fixture.runner.logs.some(({ line }) => {
    if (!line.includes('"EdgeDrift"')) return false;
    try {
      const record = JSON.parse(line) as { EdgeDrift?: number; target?: string };
      return (record.EdgeDrift ?? 0) >= 1 && record.target === TARGET_NAME;
    } catch {
      return false;
    }
  });
}

describe('the deployed drift guard, two accounts', () => {
  const stacks = useDeployedStacks();
  let currentFingerprint: string | undefined;

  beforeAll(async () => {
    const fixture = stacks();
    await fixture.runner.fireRotationSchedule();
    await fixture.runner.drain();
    const [rotationId] = await rotationIds(fixture.deployed.world);
    const steps = rotationId ? await ledgerOf(fixture.deployed.world).timeline(rotationId) : [];
    expect(steps.map((s) => s.step)).toContain('COMPLETED');
    currentFingerprint = steps.find((s) => s.step === 'KEY_CREATED')?.newKey?.fingerprint;
  });

  it('(2) heals a revert to the deleted previous key without an operator, 0 denied calls', async () => {
    const fixture = stacks();
    const deleted = fixture.deployed.world.initialKeyValue.reveal();
    await setHeader(fixture, deleted);
    await fixture.runner.drain();

    const steps = await history(fixture);
    const [drift] = driftsOf(steps);
    expect(drift).toMatchObject({
      observedFingerprint: fingerprintOf(deleted),
      expectedFingerprint: currentFingerprint,
      observedKeyLive: false,
      healing: true,
      trigger: 'cloudtrail',
    });
    expect(steps).toContainEqual(
      expect.objectContaining({ step: 'HEALED', rotationId: drift!.rotationId }),
    );
    expect((await readEdge(fixture.deployed.world)).apiKeyFingerprint).toBe(currentFingerprint);
    expect(edgeDriftEmitted(fixture)).toBe(true);
    expect(fixture.runner.deniedCalls).toEqual([]);
    const ran = new Set(
      fixture.runner.deliveries.flatMap((d) =>
        d.kind === 'invoked' && d.outcome.ok ? [d.functionName] : [],
      ),
    );
    for (const key of ['checkEdge', 'checkDrift', 'updateEdge']) {
      expect(ran).toContain(fixture.runner.fn(key).name);
    }
  });

  it('(3) records a drift to another live key and does not overwrite it', async () => {
    const fixture = stacks();
    const { api } = fixture.deployed.world;
    const apigw = new APIGatewayClient(clientConfig(api.session));
    const other = await apigw.send(
      new GetApiKeyCommand({ apiKey: api.otherClientKeyId, includeValue: true }),
    );
    apigw.destroy();
    const before = driftsOf(await history(fixture)).length;
    await setHeader(fixture, other.value!);
    await fixture.runner.drain();

    const steps = await history(fixture);
    const drifts = driftsOf(steps);
    expect(drifts).toHaveLength(before + 1);
    expect(drifts[0]).toMatchObject({
      observedFingerprint: fingerprintOf(other.value!),
      observedKeyLive: true,
      healing: false,
    });
    expect(steps.filter((s) => s.step === 'HEALED')).toHaveLength(1); // (2)'s only
    expect((await readEdge(fixture.deployed.world)).apiKeyFingerprint).toBe(
      fingerprintOf(other.value!),
    );
    expect(fixture.runner.deniedCalls).toEqual([]);
  });
});
