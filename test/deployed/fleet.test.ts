/**
 * A fleet through the stacks as users deploy them: three targets in one keyrot.targets.yml
 * (two on one distribution with different origins, usage plans and key names, one on another
 * plan and distribution: harness/deployed/fleet.ts), `serverless deploy` of every service from
 * it, each target's hand-made first key adopted with `keyrot adopt`, then the one deployed
 * schedule fired: its `targets` input fans out in the issuer to one rotation per target, every
 * AWS call simulated against the deployed roles. Everything is read back from the emulator.
 */
import { GetRolePolicyCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import { clientConfig } from '../../harness/accounts';
import type { FleetTarget } from '../../harness/deployed/fleet';
import { mustAllowList, mustDenyCalls, mustDenyList } from '../../harness/deployed/must-deny';
import { reportRotation, rotationIds, type RotationReport } from '../../harness/inspect';
import { readScheduledRotation } from '../../harness/provision';
import { apiKeyValues, deadLetterCounts, useDeployedStacks } from '../support/deployed';
import type { DeployedFixture } from '../support/deployed';
import { findLeaksIn } from '../support/local';
import { errorOf } from '@keyrot/shared';

jest.setTimeout(180_000);

/** A rotation's status with the steps' errors, so an unexpected outcome says why. */
function outcome(report: RotationReport | undefined) {
  return {
    status: report?.status,
    errors: (report?.steps ?? []).flatMap((s) => {
      const e = errorOf(s);
      return e ? [`${s.step}: ${JSON.stringify(e)}`] : [];
    }),
  };
}

/** Fires the deployed schedule once, delivers until quiet, reports each target's new rotation. */
async function rotateFleet(fixture: DeployedFixture): Promise<Map<string, RotationReport>> {
  const { runner, deployed } = fixture;
  const { world, targets } = deployed;
  const before = await Promise.all(targets.map((t) => rotationIds(world, t.name)));
  await runner.fireRotationSchedule();
  await runner.drain();
  const reports = new Map<string, RotationReport>();
  for (const [i, t] of targets.entries()) {
    const id = (await rotationIds(world, t.name)).find((r) => !before[i]!.includes(r));
    if (id) reports.set(t.name, await reportRotation(world, id, t));
  }
  return reports;
}

describe('the deployed stacks for a 3-target fleet, two accounts', () => {
  const stacks = useDeployedStacks({ fleet: 3 });

  it('are deployed for the fleet shape: two targets on one distribution, one on another', () => {
    const { targets } = stacks().deployed;
    expect(targets.map((t) => t.name)).toEqual([
      'kloudpepper-api-key',
      'kloudpepper-admin',
      'shop-api',
    ]);
    const [a, b, c] = targets as [FleetTarget, FleetTarget, FleetTarget];
    expect(b.distributionId).toBe(a.distributionId);
    expect(b.originId).not.toBe(a.originId);
    expect(new Set([a.usagePlanId, b.usagePlanId, c.usagePlanId]).size).toBe(3);
    expect(new Set([a.apiKeyName, b.apiKeyName, c.apiKeyName]).size).toBe(3);
    expect(c.distributionId).not.toBe(a.distributionId);
  });

  it('rotate every target from the one deployed schedule, with 0 denied calls', async () => {
    const fixture = stacks();
    const { runner, deployed } = fixture;
    const { world, targets } = deployed;
    // One schedule, its input the manifest's targets (fanned out by the issuer).
    const schedule = await readScheduledRotation(
      world.api.session,
      world.api.scheduleName,
      world.api.scheduleGroupName,
    );
    const input = JSON.parse(schedule.input) as { targets?: { name: string }[] };
    expect(input.targets?.map((t) => t.name)).toEqual(targets.map((t) => t.name));

    const valuesBefore = [
      world.initialKeyValue.reveal(),
      ...(await apiKeyValues(world.api.session)),
    ];
    const reports = await rotateFleet(fixture);

    expect([...reports.keys()]).toEqual(targets.map((t) => t.name));
    for (const t of targets) {
      const report = reports.get(t.name);
      expect({ target: t.name, ...report }).toMatchObject({
        target: t.name,
        status: 'COMPLETED',
        edgeHeaderMatchesNewKey: true,
        otherClientKeySurvived: true,
        oldKeysDeleted: true,
        lockReleased: true,
      });
      // The adopted hand-made key (named as the target's key or not) is the one retired.
      expect(report?.oldKeyIds).toEqual([t.initialKeyId]);
    }
    // Each target got its own key: the two origins of the shared distribution differ.
    expect(new Set(targets.map((t) => reports.get(t.name)?.newKeyId)).size).toBe(3);
    expect(runner.deniedCalls).toEqual([]);
    expect(runner.deliveries.filter((d) => d.kind !== 'invoked')).toEqual([]);
    expect(Object.values(await deadLetterCounts(deployed)).every((n) => n === 0)).toBe(true);
    const values = [...valuesBefore, ...(await apiKeyValues(world.api.session))];
    const leaks = await findLeaksIn(
      world,
      { logs: runner.logs.map((l) => l.line), events: runner.plane.events },
      values,
    );
    expect(leaks).toEqual([]);
  });

  it("refuse every call on the must-deny list, each target's other client included", async () => {
    const { runner, deployed } = stacks();
    const calls = mustDenyList(deployed);
    for (const t of deployed.targets) {
      expect(calls.map((c) => c.resource)).toContainEqual(
        expect.stringContaining(`/apikeys/${t.otherClientKeyId}`),
      );
    }
    const results = await mustDenyCalls(runner, deployed, calls);
    expect(results.filter((r) => r.allowed).map((r) => r.name)).toEqual([]);
  });

  it("allow, by the same simulation, every target's calls (the control of the list above)", async () => {
    const { runner, deployed } = stacks();
    const results = await mustDenyCalls(runner, deployed, mustAllowList(deployed));
    expect(results.length).toBeGreaterThan(6);
    expect(results.filter((r) => !r.allowed)).toEqual([]);
  });

  // Negative control: the fleet's roles are what lets each target rotate.
  it("an issuer role without one target's usage plan: that target fails on the denied call, the others complete", async () => {
    const fixture = stacks();
    const { runner, deployed } = fixture;
    const shop = deployed.targets.find((t) => t.name === 'shop-api')!;
    const fn = runner.fn('issueKey');
    const iam = new IAMClient(clientConfig(deployed.world.api.session));
    const roleName = fn.roleArn.split('/').pop()!;
    const { PolicyNames = [] } = await iam.send(
      new ListRolePoliciesCommand({ RoleName: roleName }),
    );
    const policyName = PolicyNames[0]!;
    const { PolicyDocument } = await iam.send(
      new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }),
    );
    const original = decodeURIComponent(PolicyDocument!);
    const doc = JSON.parse(original) as { Statement: { Sid?: string; Resource: unknown }[] };
    const shopPlanKeys = `arn:aws:apigateway:${fn.region}::/usageplans/${shop.usagePlanId}/keys`;
    const statement = doc.Statement.find((s) => s.Sid === 'AddKeysToThePlans');
    expect(statement?.Resource).toContain(shopPlanKeys);
    statement!.Resource = (statement!.Resource as string[]).filter((r) => r !== shopPlanKeys);
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: roleName,
        PolicyName: policyName,
        PolicyDocument: JSON.stringify(doc),
      }),
    );
    runner.authorizer.refresh();
    try {
      const reports = await rotateFleet(fixture);
      expect(outcome(reports.get('shop-api')).status).toBe('FAILED');
      expect(outcome(reports.get('kloudpepper-api-key'))).toEqual({
        status: 'COMPLETED',
        errors: [],
      });
      expect(outcome(reports.get('kloudpepper-admin'))).toEqual({
        status: 'COMPLETED',
        errors: [],
      });
      expect(runner.deniedCalls.length).toBeGreaterThan(0);
      for (const denied of runner.deniedCalls) {
        expect(denied).toMatchObject({
          functionName: fn.name,
          operation: 'CreateUsagePlanKey',
          action: 'apigateway:POST',
          resource: shopPlanKeys,
        });
      }
    } finally {
      await iam.send(
        new PutRolePolicyCommand({
          RoleName: roleName,
          PolicyName: policyName,
          PolicyDocument: original,
        }),
      );
      runner.authorizer.refresh();
      runner.front.denied.splice(0);
      iam.destroy();
    }
  });
});
