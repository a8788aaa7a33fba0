/**
 * `keyrot adopt` (issue 12): a key keyrot did not create, handed to a target by the operator,
 * is retired by the target's next rotation; before that, verify names the case and the fix,
 * and a rotation fails at the edge without deleting anything. On the local two-account world.
 */
import {
  APIGatewayClient,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  GetApiKeyCommand,
} from '@aws-sdk/client-api-gateway';
import {
  CloudFrontClient,
  GetDistributionConfigCommand,
  UpdateDistributionCommand,
} from '@aws-sdk/client-cloudfront';
import { adoptionId, fingerprintOf, KEY_TAGS, rotationState } from '@keyrot/shared';
import { clientConfig } from '../../harness/accounts';
import {
  ledgerOf,
  liveKeysOnPlan,
  readCurrentKeyReference,
  readEdge,
  rotationIds,
} from '../../harness/inspect';
import type { LocalEnvironment } from '../../harness/local-env';
import {
  runCli,
  runCliWhileDraining,
  scratchDir,
  worldTarget,
  writeTargetsFile,
  profilesEnv,
} from '../support/cli';
import { currentKeyValues, useMoto } from '../support/local';

jest.setTimeout(120_000);

const fixture = useMoto();
const TARGET = 'kloudpepper-api-key';
const HAND_NAME = 'ops-hand-made-key';

/** The CLI as an operator with both accounts as profiles and the world's targets file. */
function operator(env: LocalEnvironment) {
  const targets = writeTargetsFile(scratchDir(), 'targets.json', [worldTarget(env.world)]);
  const processEnv = profilesEnv(env.world);
  const args = (rest: string[]) => [
    '--endpoint',
    env.moto.endpoint,
    '--profile',
    'keyrot-api',
    '--edge-profile',
    'keyrot-edge',
    '--targets',
    targets,
    ...rest,
  ];
  return {
    run: (...rest: string[]) => runCli(args(rest), processEnv),
    runDraining: (...rest: string[]) => runCliWhileDraining(env, args(rest), processEnv),
  };
}

const apiGateway = (env: LocalEnvironment) =>
  new APIGatewayClient(clientConfig(env.world.api.session));

/** A key made by hand under another name, on the target's plan; its id and value. */
async function handMadeKey(env: LocalEnvironment, name = HAND_NAME) {
  const apigw = apiGateway(env);
  const created = await apigw.send(new CreateApiKeyCommand({ name, enabled: true }));
  await apigw.send(
    new CreateUsagePlanKeyCommand({
      usagePlanId: env.world.api.usagePlanId,
      keyId: created.id!,
      keyType: 'API_KEY',
    }),
  );
  return { id: created.id!, value: created.value! };
}

/** Someone sets the origin's x-api-key header to `value` by hand. */
async function setEdgeHeader(env: LocalEnvironment, value: string): Promise<void> {
  const cloudFront = new CloudFrontClient(clientConfig(env.world.edge.session));
  const current = await cloudFront.send(
    new GetDistributionConfigCommand({ Id: env.world.edge.distributionId }),
  );
  const config = current.DistributionConfig!;
  const origin = config.Origins!.Items!.find((o) => o.Id === env.world.edge.originId)!;
  origin.CustomHeaders!.Items!.find((h) => h.HeaderName === 'x-api-key')!.HeaderValue = value;
  await cloudFront.send(
    new UpdateDistributionCommand({
      Id: env.world.edge.distributionId,
      IfMatch: current.ETag!,
      DistributionConfig: config,
    }),
  );
}

async function tagsOf(env: LocalEnvironment, keyId: string) {
  return (await apiGateway(env).send(new GetApiKeyCommand({ apiKey: keyId }))).tags ?? {};
}

type Finding = { check: string; status: string; detail: string; fix?: string };

async function verify(env: LocalEnvironment) {
  const result = await operator(env).run('-o', 'json', 'verify', '--target', TARGET);
  const findings = JSON.parse(result.stdout) as Finding[];
  return { result, managed: findings.find((f) => f.check === 'header-key-managed')! };
}

/** Fires the schedule and delivers everything; the rotation's id and outcome. */
async function scheduledRotation(env: LocalEnvironment) {
  const before = new Set(await rotationIds(env.world));
  await env.runner.fireSchedule();
  await env.runner.drain();
  const rotationId = (await rotationIds(env.world)).find((id) => !before.has(id))!;
  const steps = await ledgerOf(env.world).timeline(rotationId);
  return { rotationId, steps, state: rotationState(steps) };
}

describe('a key under another name that the edge sends', () => {
  it('before adopt: verify exits 3 naming adopt; a rotation fails at the edge and deletes nothing', async () => {
    const env = await fixture.world();
    const hand = await handMadeKey(env);
    await setEdgeHeader(env, hand.value);
    const keysBefore = (await liveKeysOnPlan(env.world)).sort();

    const { result, managed } = await verify(env);

    expect(result.code).toBe(3);
    expect(managed.status).toBe('drift');
    expect(managed.detail).toContain(`named ${HAND_NAME}, not ${TARGET}, and not adopted`);
    expect(managed.fix).toBe(`keyrot adopt --target ${TARGET} --key-id ${hand.id}`);
    expect(result.stderr).toContain(
      `keyrot: ${TARGET} header-key-managed: fix with: keyrot adopt --target ${TARGET} --key-id ${hand.id}\n`,
    );

    const { state } = await scheduledRotation(env);

    expect(state.outcome).toMatchObject({
      step: 'FAILED',
      stage: 'edge',
      error: { name: 'EdgeDriftError' },
      rolledBack: true,
    });
    // Nothing of what existed was deleted; the edge still sends the hand-made key.
    expect((await liveKeysOnPlan(env.world)).sort()).toEqual(keysBefore);
    expect((await readEdge(env.world)).apiKeyFingerprint).toBe(fingerprintOf(hand.value));
    // Never printed: the value, only its id and fingerprint.
    expect(result.stdout + result.stderr).not.toContain(hand.value);
  });

  it('after adopt: verify exits 0, and the next rotation retires it, keeping the partner key', async () => {
    const env = await fixture.world();
    const hand = await handMadeKey(env);
    await setEdgeHeader(env, hand.value);
    const cli = operator(env);

    const preview = await cli.run('adopt', '--target', TARGET, '--key-id', hand.id);
    expect(preview.code).toBe(0);
    expect(preview.stdout).toContain('nothing changed (pass --yes)');
    expect(await tagsOf(env, hand.id)).toEqual({});
    expect(await readCurrentKeyReference(env.world)).toBeNull();

    const adopted = await cli.run(
      '-o',
      'json',
      'adopt',
      '--target',
      TARGET,
      '--key-id',
      hand.id,
      '--yes',
      '--stage',
      env.world.edge.keyrotStage,
    );

    expect(adopted.stderr).toBe('');
    expect(adopted.code).toBe(0);
    expect(JSON.parse(adopted.stdout)).toEqual({
      status: 'adopted',
      target: TARGET,
      key: { id: hand.id, fingerprint: fingerprintOf(hand.value) },
      keyName: HAND_NAME,
      atEdge: true,
      adoptionId: adoptionId(hand.id),
    });
    // The tag is written in API Gateway (what the least-privilege reaper conditions on)...
    expect(await tagsOf(env, hand.id)).toEqual({
      [KEY_TAGS.managed]: 'true',
      [KEY_TAGS.target]: TARGET,
    });
    // ...and the adoption is in the ledger, by the CLI, as the operator.
    const [step] = await ledgerOf(env.world).timeline(adoptionId(hand.id));
    expect(step).toMatchObject({
      step: 'ADOPTED',
      target: TARGET,
      keys: [{ id: hand.id, fingerprint: fingerprintOf(hand.value) }],
      keyName: HAND_NAME,
      atEdge: true,
      forced: false,
      actor: { function: 'keyrot-cli', account: '111111111111' },
      requestedBy: expect.stringMatching(/^arn:aws:sts::111111111111:/),
    });
    // ...and the key the edge sends is now the current-key reference a template resolves.
    expect(await readCurrentKeyReference(env.world)).toBe(fingerprintOf(hand.value));
    // Adopting again is a success that changes nothing.
    const again = await cli.run(
      '-o',
      'json',
      'adopt',
      '--target',
      TARGET,
      '--key-id',
      hand.id,
      '--yes',
    );
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ status: 'already-adopted' });
    expect(await ledgerOf(env.world).timeline(adoptionId(hand.id))).toHaveLength(1);

    const before = await verify(env);
    expect(before.result.code).toBe(0);
    expect(before.managed).toMatchObject({ status: 'ok' });

    const { state } = await scheduledRotation(env);

    expect(state.outcome?.step).toBe('COMPLETED');
    expect(state.step('KEYS_RETIRED')?.keys.map((k) => k.id)).toContain(hand.id);
    // The plan ends with the partner's key and exactly one new key.
    expect((await liveKeysOnPlan(env.world)).sort()).toEqual(
      [env.world.api.otherClientKeyId, state.newKey!.id].sort(),
    );
    expect((await readEdge(env.world)).apiKeyFingerprint).toBe(state.newKey!.fingerprint);
    expect(await readCurrentKeyReference(env.world)).toBe(state.newKey!.fingerprint);
    expect((await verify(env)).result.code).toBe(0);
    const values = [hand.value, ...(await currentKeyValues(env))];
    const printed = [preview, adopted, again].map((r) => r.stdout + r.stderr).join('\n');
    expect(values.filter((v) => printed.includes(v))).toEqual([]);
  });
});

describe("the seed's hand-made key (the target's name, untagged)", () => {
  it('adopt then rotate retires it: the plan ends with the partner key and one new key', async () => {
    const env = await fixture.world();
    const cli = operator(env);
    const seedKey = env.world.api.initialKeyId;

    const unmanaged = await verify(env);
    expect(unmanaged.result.code).toBe(3);
    expect(unmanaged.managed.detail).toContain(`not tagged ${KEY_TAGS.managed}=true`);
    expect(unmanaged.managed.fix).toBe(`keyrot adopt --target ${TARGET} --key-id ${seedKey}`);

    const adopted = await cli.runDraining(
      'adopt',
      '--target',
      TARGET,
      '--key-id',
      seedKey,
      '--yes',
    );
    expect(adopted.code).toBe(0);
    expect(await tagsOf(env, seedKey)).toMatchObject({ [KEY_TAGS.managed]: 'true' });
    expect((await verify(env)).result.code).toBe(0);

    const rotated = await cli.runDraining('rotate', '--target', TARGET, '--wait', '--poll', '0.1');

    expect(rotated.code).toBe(0);
    const [rotationId] = await rotationIds(env.world);
    const state = rotationState(await ledgerOf(env.world).timeline(rotationId!));
    expect(state.step('KEYS_RETIRED')?.keys.map((k) => k.id)).toEqual([seedKey]);
    expect((await liveKeysOnPlan(env.world)).sort()).toEqual(
      [env.world.api.otherClientKeyId, state.newKey!.id].sort(),
    );
    // The history shows the adoption as its own row, then the rotation.
    const listed = await cli.run('-o', 'json', 'ledger', 'list', '--target', TARGET);
    expect(
      (JSON.parse(listed.stdout) as { rotationId: string; outcome: string }[]).map((r) => [
        r.rotationId,
        r.outcome,
      ]),
    ).toEqual([
      [rotationId, 'COMPLETED'],
      [adoptionId(seedKey), 'ADOPTED'],
    ]);
  });
});

describe('adopt refuses', () => {
  it("another client's key the edge does not send, unless --force; nothing tagged or recorded", async () => {
    const env = await fixture.world();
    const partner = env.world.api.otherClientKeyId;
    const cli = operator(env);

    const refused = await cli.run('adopt', '--target', TARGET, '--key-id', partner, '--yes');

    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(
      new RegExp(
        `^keyrot: --key-id: key ${partner} is not the key distribution ${env.world.edge.distributionId} origin api-gateway-origin sends \\(it sends fingerprint [0-9a-f]{12}\\): .*pass --force if it is the target's\\n$`,
      ),
    );
    expect(await tagsOf(env, partner)).toEqual({ owner: 'partner' });
    expect(await ledgerOf(env.world).timeline(adoptionId(partner))).toEqual([]);

    // With --force the operator says it is the target's: adopted, recorded as forced.
    const forced = await cli.run(
      'adopt',
      '--target',
      TARGET,
      '--key-id',
      partner,
      '--force',
      '--yes',
    );
    expect(forced.code).toBe(0);
    expect(await ledgerOf(env.world).timeline(adoptionId(partner))).toMatchObject([
      { step: 'ADOPTED', atEdge: false, forced: true },
    ]);
  });

  it('a key not on the plan, an unknown key, a key tagged for another target', async () => {
    const env = await fixture.world();
    const apigw = apiGateway(env);
    const offPlan = await apigw.send(new CreateApiKeyCommand({ name: HAND_NAME, enabled: true }));
    const other = await apigw.send(
      new CreateApiKeyCommand({
        name: 'shop-api-key',
        enabled: true,
        tags: { [KEY_TAGS.managed]: 'true', [KEY_TAGS.target]: 'shop-api' },
      }),
    );
    await apigw.send(
      new CreateUsagePlanKeyCommand({
        usagePlanId: env.world.api.usagePlanId,
        keyId: other.id!,
        keyType: 'API_KEY',
      }),
    );
    const cli = operator(env);
    const plan = env.world.api.usagePlanId;

    const results = await Promise.all(
      [offPlan.id!, 'nokey00000', other.id!].map((id) =>
        cli.run('adopt', '--target', TARGET, '--key-id', id, '--yes', '--force'),
      ),
    );

    expect(results.map((r) => [r.code, r.stderr])).toEqual([
      [
        2,
        `keyrot: --key-id: key ${offPlan.id!} is not on usage plan ${plan} of target ${TARGET}\n`,
      ],
      [2, expect.stringMatching(/^keyrot: --key-id: no API key nokey00000 in the API account/)],
      [
        2,
        `keyrot: --key-id: key ${other.id!} is tagged keyrot:target=shop-api: it belongs to target shop-api, not ${TARGET}\n`,
      ],
    ]);
    expect(await tagsOf(env, offPlan.id!)).toEqual({});
    expect(await tagsOf(env, other.id!)).toEqual({
      [KEY_TAGS.managed]: 'true',
      [KEY_TAGS.target]: 'shop-api',
    });
  });
});
