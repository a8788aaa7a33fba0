/**
 * A rotation through the stacks as users deploy them: `serverless deploy` of every service onto
 * the local AWS (harness/deployed/deploy.ts), the deployed monthly schedule fired, and the
 * packaged functions run from their zips with their deployed environment and role, every AWS
 * call evaluated against that role (harness/deployed/runner.ts). Then the negative controls,
 * each a one-line defect of the kind `npm test` used to pass over, each caught here.
 */
import {
  GetRolePolicyCommand,
  IAMClient,
  PutRolePolicyCommand,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import { PutKeyPolicyCommand, GetKeyPolicyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  EventBridgeClient,
  ListTargetsByRuleCommand,
  PutTargetsCommand,
  type Target,
} from '@aws-sdk/client-eventbridge';
import { clientConfig } from '../../harness/accounts';
import type { DeployedRunner } from '../../harness/deployed/runner';
import { mustAllowList, mustDenyCalls } from '../../harness/deployed/must-deny';
import { reportRotation, rotationIds } from '../../harness/inspect';
import {
  apiKeyValues,
  deadLetterAlarmWouldFire,
  deadLetterCounts,
  purgeDeadLetters,
  useDeployedStacks,
  type DeployedFixture,
} from '../support/deployed';
import { findLeaksIn } from '../support/local';

jest.setTimeout(180_000);

/** Fires the deployed schedule, delivers until quiet, and reports the newest rotation. */
async function rotateFromSchedule(fixture: DeployedFixture) {
  const { runner, deployed } = fixture;
  const before = await rotationIds(deployed.world);
  await runner.fireRotationSchedule();
  await runner.drain();
  const ids = await rotationIds(deployed.world);
  const id = ids.find((i) => !before.includes(i));
  return id ? reportRotation(deployed.world, id) : undefined;
}

async function expectRotatedCleanly(fixture: DeployedFixture) {
  const { runner, deployed } = fixture;
  const valuesBefore = [
    deployed.world.initialKeyValue.reveal(),
    ...(await apiKeyValues(deployed.world.api.session)),
  ];
  const report = await rotateFromSchedule(fixture);

  expect(report).toMatchObject({
    status: 'COMPLETED',
    edgeHeaderMatchesNewKey: true,
    // The deployed current-key secret names the new key: a redeploy of a template that
    // references it sends the key the edge sends.
    referenceMatchesEdge: true,
    otherClientKeySurvived: true,
    oldKeysDeleted: true,
    lockReleased: true,
  });
  expect(report!.oldKeyIds).toContain(deployed.world.api.initialKeyId);
  expect(runner.deniedCalls).toEqual([]);
  expect(runner.deliveries.filter((d) => d.kind !== 'invoked')).toEqual([]);
  expect(Object.values(await deadLetterCounts(deployed)).every((n) => n === 0)).toBe(true);
  // Every service ran, from its zip, as its deployed function.
  const ran = new Set(
    runner.deliveries.flatMap((d) =>
      d.kind === 'invoked' && d.outcome.ok ? [d.functionName] : [],
    ),
  );
  for (const key of ['issueKey', 'updateEdge', 'awaitDeployment', 'retireKeys']) {
    expect(ran).toContain(runner.fn(key).name);
  }
  const values = [...valuesBefore, ...(await apiKeyValues(deployed.world.api.session))];
  const leaks = await findLeaksIn(
    deployed.world,
    { logs: runner.logs.map((l) => l.line), events: runner.plane.events },
    values,
  );
  expect(leaks).toEqual([]);
  return report!;
}

/** A change to a deployed function's configuration, as the runner applies it. */
type FunctionChange = Parameters<DeployedRunner['reconfigure']>[1];

describe('the deployed stacks, two accounts', () => {
  const stacks = useDeployedStacks();

  it('rotate the key from the deployed monthly schedule, with 0 denied calls', async () => {
    await expectRotatedCleanly(stacks());
  });

  it('refuse every call on the must-deny list', async () => {
    const { runner, deployed } = stacks();
    const results = await mustDenyCalls(runner, deployed);
    expect(results.length).toBeGreaterThan(5);
    expect(results.filter((r) => r.allowed).map((r) => r.name)).toEqual([]);
  });

  it('allow, by the same simulation, the calls a rotation needs (the control of the list above)', async () => {
    const { runner, deployed } = stacks();
    const results = await mustDenyCalls(runner, deployed, mustAllowList(deployed));
    expect(results.filter((r) => !r.allowed)).toEqual([]);
  });

  describe('negative controls: each defect fails the run in the expected way', () => {
    afterEach(async () => {
      const { runner, deployed } = stacks();
      await purgeDeadLetters(deployed);
      runner.front.denied.splice(0);
    });

    /** Runs `body` with the issuer's function changed as `change` says, then restores it. */
    async function withIssuer<T>(
      change: (fn: { handler: string; environment: Record<string, string> }) => FunctionChange,
      body: () => Promise<T>,
    ): Promise<T> {
      const { runner } = stacks();
      const fn = runner.fn('issueKey');
      const original = { handler: fn.handler, environment: { ...fn.environment } };
      await runner.reconfigure('issueKey', change(original));
      try {
        return await body();
      } finally {
        await runner.reconfigure('issueKey', original);
      }
    }

    it('a wrong handler export: Runtime.HandlerNotFound, and the event reaches the dead-letter queue and its alarm', async () => {
      await withIssuer(
        ({ handler }) => ({ handler: handler.replace(/\.handler$/, '.handlr') }),
        () => expectIssuerFailure(stacks(), 'Runtime.HandlerNotFound'),
      );
    });

    it('an environment variable the template no longer sets: InvalidInputError naming it', async () => {
      const failure = await withIssuer(
        ({ environment }) => {
          const without = { ...environment };
          delete without['LEDGER_TABLE_NAME'];
          return { environment: without };
        },
        () => expectIssuerFailure(stacks(), 'InvalidInputError'),
      );
      expect(failure).toContain('LEDGER_TABLE_NAME');
    });

    it('a function that always throws: every attempt fails, then the dead-letter queue and its alarm', async () => {
      await withIssuer(
        ({ environment }) => ({
          environment: { ...environment, LEDGER_TABLE_NAME: 'keyrot-ledger-that-does-not-exist' },
        }),
        () => expectIssuerFailure(stacks(), undefined),
      );
    });

    it('a role with one needed statement removed: the IAM simulation denies the call, naming it', async () => {
      const { runner, deployed } = stacks();
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
      const doc = JSON.parse(original) as { Statement: { Sid?: string }[] };
      doc.Statement = doc.Statement.filter((s) => s.Sid !== 'CreateKeysTaggedForATarget');
      await iam.send(
        new PutRolePolicyCommand({
          RoleName: roleName,
          PolicyName: policyName,
          PolicyDocument: JSON.stringify(doc),
        }),
      );
      runner.authorizer.refresh();
      try {
        const report = await rotateFromSchedule(stacks());
        expect(report?.status).toBe('FAILED');
        expect(runner.deniedCalls).toEqual([
          expect.objectContaining({
            functionName: fn.name,
            operation: 'CreateApiKey',
            action: 'apigateway:POST',
            resource: `arn:aws:apigateway:${fn.region}::/apikeys`,
          }),
        ]);
      } finally {
        await iam.send(
          new PutRolePolicyCommand({
            RoleName: roleName,
            PolicyName: policyName,
            PolicyDocument: original,
          }),
        );
        runner.authorizer.refresh();
        iam.destroy();
      }
    });

    it('a renamed issuer role the KMS key policy still names: kms:Encrypt denied by the key policy', async () => {
      const { runner, deployed } = stacks();
      const kms = new KMSClient(clientConfig(deployed.world.edge.session));
      const keyId = deployed.world.edge.kmsKeyArn;
      const { Policy } = await kms.send(
        new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }),
      );
      const renamed = Policy!.replace(
        /role\/keyrot-key-issuer-/g,
        'role/keyrot-key-issuer-renamed-',
      );
      expect(renamed).not.toBe(Policy);
      await kms.send(
        new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default', Policy: renamed }),
      );
      runner.authorizer.refresh();
      try {
        const report = await rotateFromSchedule(stacks());
        expect(report?.status).toBe('FAILED');
        expect(runner.deniedCalls).toEqual([
          expect.objectContaining({
            functionName: runner.fn('issueKey').name,
            action: 'kms:Encrypt',
          }),
        ]);
      } finally {
        await kms.send(
          new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default', Policy: Policy! }),
        );
        runner.authorizer.refresh();
        kms.destroy();
      }
    });

    // Last: the rotation it starts cannot finish, so it keeps its target's lock.
    it('a forwarding rule to a bus that does not exist: KeyCreated reaches the dead-letter queue', async () => {
      const { runner, deployed } = stacks();
      const events = new EventBridgeClient(clientConfig(deployed.world.api.session));
      const rule = 'keyrot-forward-to-edge';
      const { Targets = [] } = await events.send(
        new ListTargetsByRuleCommand({ Rule: rule, EventBusName: deployed.world.api.busName }),
      );
      const broken: Target[] = Targets.map((t) => ({
        ...t,
        Arn: t.Arn!.replace(/event-bus\/.+$/, 'event-bus/keyrot-missing'),
      }));
      await events.send(
        new PutTargetsCommand({
          Rule: rule,
          EventBusName: deployed.world.api.busName,
          Targets: broken,
        }),
      );
      runner.plane.refresh();
      try {
        const start = runner.deliveries.length;
        const report = await rotateFromSchedule(stacks());
        expect(report?.status).toBe('IN_PROGRESS');
        const lost = runner.deliveries.slice(start).filter((d) => d.kind !== 'invoked');
        expect(lost).toEqual([
          expect.objectContaining({
            kind: 'dead-lettered',
            by: 'eventbridge',
            detailType: 'KeyCreated',
          }),
        ]);
        const queueArn = lost[0]?.kind === 'dead-lettered' ? lost[0].queueArn : undefined;
        const [letter] = await runner.deadLetters(queueArn ?? 'no dead-letter queue');
        // The forwarding role may put on the real edge bus only, so EventBridge's put is refused.
        expect(letter?.attributes).toMatchObject({
          TARGET_ARN: expect.stringContaining('event-bus/keyrot-missing'),
          ERROR_CODE: 'AccessDeniedException',
        });
        expect(
          (await deadLetterAlarmWouldFire(deployed.world.api.session, 'key-issuer')).fires,
        ).toBe(true);
      } finally {
        await events.send(
          new PutTargetsCommand({ Rule: rule, EventBusName: deployed.world.api.busName, Targets }),
        );
        runner.plane.refresh();
        events.destroy();
      }
    });
  });
});

describe('the deployed stacks, one account', () => {
  const stacks = useDeployedStacks({ singleAccount: true });

  it('rotate the key from the deployed monthly schedule, with 0 denied calls', async () => {
    await expectRotatedCleanly(stacks());
  });
});

/**
 * Fires the schedule with the issuer broken: every attempt fails with `errorType` (any type
 * when undefined), no key is created, and the request reaches the issuer's dead-letter queue as
 * Lambda's on-failure record, where the queue's alarm sees it. Returns the error message.
 */
async function expectIssuerFailure(fixture: DeployedFixture, errorType: string | undefined) {
  const { runner, deployed } = fixture;
  const start = runner.deliveries.length;
  const keysBefore = (await apiKeyValues(deployed.world.api.session)).length;
  await runner.fireRotationSchedule();
  await runner.drain();
  const seen = runner.deliveries.slice(start);
  const issuer = runner.fn('issueKey');
  const attempts = seen.filter((d) => d.kind === 'invoked' && d.functionName === issuer.name);
  expect(attempts).toHaveLength(1 + issuer.maximumRetryAttempts);
  for (const a of attempts) {
    expect(a.kind === 'invoked' && a.outcome.ok).toBe(false);
    if (errorType && a.kind === 'invoked' && !a.outcome.ok)
      expect(a.outcome.errorType).toBe(errorType);
  }
  expect(seen.filter((d) => d.kind !== 'invoked')).toEqual([
    expect.objectContaining({ kind: 'dead-lettered', by: 'lambda', queueArn: issuer.onFailure }),
  ]);
  const [record] = await runner.deadLetters(issuer.onFailure!);
  const body = JSON.parse(record!.body) as {
    requestContext: { condition: string };
    requestPayload: { 'detail-type': string };
    responsePayload: { errorType: string; errorMessage: string };
  };
  expect(body.requestContext.condition).toBe('RetriesExhausted');
  expect(body.requestPayload['detail-type']).toBe('KeyRotationRequested');
  if (errorType) expect(body.responsePayload.errorType).toBe(errorType);
  // A minified bundle would report a short name here; the runbook's names must survive.
  expect(body.responsePayload.errorType.length).toBeGreaterThan(3);
  expect(await deadLetterAlarmWouldFire(deployed.world.api.session, 'key-issuer')).toMatchObject({
    fires: true,
  });
  expect(await apiKeyValues(deployed.world.api.session)).toHaveLength(keysBefore);
  return body.responsePayload.errorMessage;
}
