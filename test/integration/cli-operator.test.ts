/**
 * The operator's first week (issue 16): what `verify` says when it cannot read the edge,
 * rejected requests in `status` and `ledger list`, `redrive` and `doctor`, on the local world.
 */
import { ledgerOf, rotationIds } from '../../harness/inspect';
import type { LocalEnvironment } from '../../harness/local-env';
import { operatorEnv, runCli, scratchDir, writeCredentialsFile } from '../support/cli';
import { useMoto } from '../support/local';

jest.setTimeout(90_000);

const fixture = useMoto();
const TARGET = 'kloudpepper-api-key';

async function scheduledRotation(env: LocalEnvironment): Promise<string> {
  await env.runner.fireSchedule();
  await env.runner.drain();
  const ids = await rotationIds(env.world);
  return ids[ids.length - 1]!;
}

/** The CLI as the API account's operator: its credentials in the environment. */
function cli(env: LocalEnvironment) {
  const processEnv = operatorEnv(env.world);
  return (...args: string[]) => runCli(['--endpoint', env.moto.endpoint, ...args], processEnv);
}

/** The CLI with both accounts as profiles (`keyrot-api`, `keyrot-edge`) of a file. */
function cliWithProfiles(env: LocalEnvironment) {
  const credentials = writeCredentialsFile(scratchDir(), env.world);
  const processEnv: NodeJS.ProcessEnv = {
    ...operatorEnv(env.world),
    AWS_SHARED_CREDENTIALS_FILE: credentials,
  };
  delete processEnv.AWS_ACCESS_KEY_ID;
  delete processEnv.AWS_SECRET_ACCESS_KEY;
  delete processEnv.AWS_SESSION_TOKEN;
  return (...args: string[]) =>
    runCli(['--endpoint', env.moto.endpoint, '--profile', 'keyrot-api', ...args], processEnv);
}

describe('keyrot verify without the edge account', () => {
  it('exits 5 naming the account whose credentials it used and --edge-profile, and reports no drift', async () => {
    const env = await fixture.world();
    await scheduledRotation(env);

    const result = await cli(env)('-o', 'json', 'verify', '--target', TARGET);

    expect(result.code).toBe(5);
    const findings = JSON.parse(result.stdout) as { check: string; status: string }[];
    expect(findings.filter((f) => f.status === 'drift')).toEqual([]);
    expect(Object.fromEntries(findings.map((f) => [f.check, f.status]))).toEqual({
      'edge-header': 'unread',
      'header-key-live': 'n/a',
      'ledger-current-key': 'n/a',
      'stray-keys': 'ok',
      lock: 'ok',
    });
    expect(result.stderr.trim().split('\n')).toEqual([
      `keyrot: could not read distribution ${env.world.edge.distributionId} (target ${TARGET}) with the credentials of account 111111111111 (the API account's: no --edge-profile given): NoSuchDistribution; pass --edge-profile <a profile of the edge account>`,
    ]);
  });

  it('still finds no drift with the edge profile', async () => {
    const env = await fixture.world();
    await scheduledRotation(env);

    const result = await cliWithProfiles(env)('--edge-profile', 'keyrot-edge', 'verify');

    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});

describe('rejected requests', () => {
  /** A scheduled-form request whose usage plan id is empty: the issuer rejects it. */
  async function rejectedRequest(env: LocalEnvironment): Promise<void> {
    await env.runner.putOnApiBus('KeyRotationRequested', {
      ...env.world.scheduleInput,
      USAGE_PLAN_ID: '',
    });
    await env.runner.drain();
  }

  it('status shows the last one and why, until the target rotates again', async () => {
    const env = await fixture.world();
    await scheduledRotation(env);
    await rejectedRequest(env);
    const [rejected] = await ledgerOf(env.world).history('-');
    expect(rejected).toMatchObject({ step: 'REJECTED' });

    const json = await cli(env)('-o', 'json', 'status');
    const csv = await cli(env)('-o', 'csv', 'status');

    expect(json.code).toBe(0);
    const [row] = JSON.parse(json.stdout) as { target: string; lastRejected: unknown }[];
    expect(row).toMatchObject({
      target: TARGET,
      lastRejected: {
        rotationId: rejected!.rotationId,
        at: rejected!.at,
        field: rejected!.error!.field,
        message: rejected!.error!.message,
      },
    });
    expect(rejected!.error!.field).toBeTruthy();
    // The message names the field: `invalid detail.USAGE_PLAN_ID: must not be empty ...`.
    expect(rejected!.error!.message).toContain(rejected!.error!.field);
    expect(csv.stdout).toContain(
      `${rejected!.at} ${rejected!.error!.message} (${rejected!.rotationId})`,
    );

    // A rotation started since: the rejection is history, no longer the target's news.
    await scheduledRotation(env);
    const after = await cli(env)('-o', 'json', 'status');
    expect(JSON.parse(after.stdout)).toEqual([
      expect.objectContaining({ target: TARGET, lastRejected: null }),
    ]);
  });

  it('ledger list shows them by default, and --hide-rejected hides them', async () => {
    const env = await fixture.world();
    const rotationId = await scheduledRotation(env);
    await rejectedRequest(env);
    const [rejected] = await ledgerOf(env.world).history('-');

    const shown = await cli(env)('-o', 'json', 'ledger', 'list', '--target', TARGET);
    const hidden = await cli(env)(
      '-o',
      'json',
      'ledger',
      'list',
      '--target',
      TARGET,
      '--hide-rejected',
    );

    expect(shown.code).toBe(0);
    type Row = { rotationId: string; outcome: string; error: string | null };
    expect((JSON.parse(shown.stdout) as Row[]).map((r) => [r.rotationId, r.outcome])).toEqual([
      [rejected!.rotationId, 'REJECTED'],
      [rotationId, 'COMPLETED'],
    ]);
    expect((JSON.parse(shown.stdout) as Row[])[0]!.error).toContain(rejected!.error!.message);
    expect(hidden.code).toBe(0);
    expect((JSON.parse(hidden.stdout) as Row[]).map((r) => r.rotationId)).toEqual([rotationId]);
  });
});
