/**
 * `npm run demo`: starts local AWS (moto), provisions the two accounts, fires the monthly
 * schedule as EventBridge Scheduler would, lets the rotation run across both accounts, prints
 * its timeline and ledger entries read back from DynamoDB, checks the outcome against the
 * emulated AWS, and stops everything it started.
 *
 *   npm run demo -- [--json] [--rotations N] [--single-account] [--propagation-seconds S] [--verbose] [--serve] [--deployed [--fleet N | --scenario revert]]
 *
 * `--deployed --scenario revert` (the drift guard, issue 15): after the rotation a direct
 * UpdateDistribution sets the header back to the deleted key; the deployed drift guard heals
 * it. With `--json` the last line is `{"scenario":"revert","healed":…,"healSeconds":…,
 * "alarm":…,"driftRecorded":…,"edgeSendsCurrentKey":…,"deniedCalls":…}`.
 *
 * `--deployed` runs the same rotation through the stacks as users deploy them: `serverless
 * deploy` of every service onto moto, the packaged functions run from their zips with their
 * deployed environment and roles, every AWS call checked by the IAM simulation
 * (harness/deployed/); the JSON line gains `"deployed": true` and `"deniedCalls"`.
 *
 * `--deployed --fleet N` (N from 1 to 3) deploys for a fleet instead (harness/deployed/fleet.ts:
 * two targets on one distribution, one on another plan and distribution), all in one
 * keyrot.targets.yml, each first key adopted, then fires the one deployed schedule, whose
 * `targets` input the issuer fans out. The JSON line is then
 * `{"deployed":true,"targets":[{"name","status","edgeHeaderMatchesNewKey"},...],"deniedCalls","mustDenyAllowed"}`,
 * every value read back from the emulator and the IAM simulation.
 *
 * `--serve` keeps the local world up afterwards for the keyrot CLI: it writes credentials,
 * a targets file and an env.sh under .tmp/demo, and delivers events until Ctrl-C.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { detailsOf, errorOf, newKeyOf, stepSortKey, type StepRecord } from '@keyrot/shared';
import {
  keyFingerprint,
  ledgerOf,
  readEdge,
  reportRotation,
  rotationIds,
  setEdgeHeaderAsOperator,
  TARGET_NAME,
  type RotationReport,
} from './inspect';
import { deployLocal } from './deployed/deploy';
import { MAX_FLEET_SIZE, type FleetTarget } from './deployed/fleet';
import { mustDenyCalls } from './deployed/must-deny';
import { DeployedRunner } from './deployed/runner';
import { startLocalEnvironment, type LocalEnvironment } from './local-env';
import { startMoto } from './moto';
import { SCHEDULE_EXPRESSION, type LocalWorld } from './provision';
import { CloudFrontSimulator } from './cloudfront-sim';

const USAGE =
  'usage: npm run demo -- [--json] [--rotations N] [--single-account] [--propagation-seconds S] [--verbose] [--serve | --deployed [--fleet N | --scenario revert]]';

function parseOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      rotations: { type: 'string', default: '1' },
      'single-account': { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      serve: { type: 'boolean', default: false },
      deployed: { type: 'boolean', default: false },
      fleet: { type: 'string' },
      'propagation-seconds': { type: 'string', default: '2' },
      scenario: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const rotations = Number(values.rotations);
  if (!Number.isInteger(rotations) || rotations < 1 || rotations > 20) {
    throw new Error(`--rotations must be an integer from 1 to 20, got "${values.rotations}"`);
  }
  if (values.serve && values.deployed) {
    throw new Error(
      '--serve keeps the in-process world up for the CLI; it cannot be combined with --deployed',
    );
  }
  const fleet = values.fleet === undefined ? undefined : Number(values.fleet);
  if (fleet !== undefined) {
    if (!Number.isInteger(fleet) || fleet < 1 || fleet > MAX_FLEET_SIZE) {
      throw new Error(
        `--fleet must be an integer from 1 to ${MAX_FLEET_SIZE}, got "${values.fleet}"`,
      );
    }
    if (!values.deployed) throw new Error('--fleet deploys a fleet: it needs --deployed');
    if (rotations !== 1) throw new Error('--fleet runs one rotation of each target');
  }
  if (values.scenario !== undefined && values.scenario !== 'revert') {
    throw new Error(`--scenario: only "revert" is known here, got "${values.scenario}"`);
  }
  if (values.scenario === 'revert' && (!values.deployed || fleet !== undefined)) {
    throw new Error('--scenario revert runs through the deployed stacks: it needs --deployed');
  }
  const propagationSeconds = Number(values['propagation-seconds']);
  if (!Number.isFinite(propagationSeconds) || propagationSeconds < 0 || propagationSeconds > 120) {
    throw new Error(
      `--propagation-seconds must be a number from 0 to 120, got "${values['propagation-seconds']}"`,
    );
  }
  return { ...values, rotations, fleet, propagationSeconds };
}

async function main(): Promise<number> {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`demo: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  // With --json, stdout carries only the final JSON line; the narrative goes to stderr.
  const out = options.json ? process.stderr : process.stdout;
  const say = (line = '') => out.write(`${line}\n`);

  say('keyrot demo: zero-downtime rotation of the key CloudFront sends to API Gateway');
  const run = options.deployed
    ? await startDeployedRun(options, say)
    : await startInProcessRun(options, say);
  try {
    if (run.fleet) return await rotateFleet(run, run.fleet, options.json, say);
    await describeWorld(run, say);
    const reports: RotationReport[] = [];
    for (let n = 1; n <= options.rotations; n++) {
      say();
      say(
        `Rotation ${n} of ${options.rotations}: firing schedule ${run.world.api.scheduleName} (${SCHEDULE_EXPRESSION})`,
      );
      const before = run.events().length;
      await run.fireSchedule();
      await run.drain();
      for (const event of run.events().slice(before)) {
        say(`  event ${event.detailType.padEnd(21)} on the bus of account ${event.account}`);
      }
      const ids = await rotationIds(run.world);
      const report = await reportRotation(run.world, ids[ids.length - 1]!);
      reports.push(report);
      printTimeline(report, say);
      printLedger(report, run.world, say);
      printChecks(report, say);
    }
    if (run.deniedCalls) {
      const denied = run.deniedCalls();
      say(
        `  ${denied.length === 0 ? '✔' : '✘'} ${denied.length} AWS calls denied by the IAM simulation of the deployed roles`,
      );
      for (const d of denied) say(`    ${d}`);
    }
    if (options.scenario === 'revert' && run.revert) {
      const summary = await revertScenario(run, run.revert, say);
      const ok = summary.healed && summary.driftRecorded && summary.edgeSendsCurrentKey;
      const clean = ok && summary.deniedCalls === 0 && reports.every(passed);
      if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      return clean ? 0 : 1;
    }
    const failed = reports.some((r) => !passed(r)) || (run.deniedCalls?.().length ?? 0) > 0;
    if (reports.length > 1) {
      const chained = reports
        .slice(1)
        .every((r, i) => r.oldKeyIds.includes(reports[i]!.newKeyId ?? ''));
      say(`${chained ? '✔' : '✘'} each rotation retired the key the previous one created`);
      if (!chained) return await finish(1);
    }
    return await finish(failed ? 1 : 0);

    async function finish(code: number): Promise<number> {
      if (options.json) {
        const deployed = run.deniedCalls && {
          deployed: true,
          deniedCalls: run.deniedCalls().length,
        };
        process.stdout.write(`${JSON.stringify({ ...jsonSummary(reports), ...deployed })}\n`);
      }
      if (options.serve && run.env) await serveForCli(run.env, say);
      else say('Next: `npm run demo -- --serve` keeps this world up for the keyrot CLI (README).');
      return code;
    }
  } finally {
    await run.stop();
    say('local AWS stopped; nothing left behind.');
  }
}

/** One demo world: in process (the default) or the deployed stacks (`--deployed`). */
interface DemoRun {
  readonly world: LocalWorld;
  readonly endpoint: string;
  fireSchedule(): Promise<void>;
  drain(): Promise<void>;
  /** Events put on a bus so far, with the account of that bus. */
  events(): { detailType: string; account: string }[];
  /** Deployed only: the calls the IAM simulation denied, one line each. */
  readonly deniedCalls?: () => string[];
  /** Deployed with `--fleet` only: the targets and the must-deny calls the roles allow. */
  readonly fleet?: {
    readonly targets: readonly FleetTarget[];
    mustDenyAllowed(): Promise<string[]>;
  };
  /** In process only: the environment `--serve` keeps up. */
  readonly env?: LocalEnvironment;
  /** Deployed only: what `--scenario revert` needs (the front, the functions' log lines). */
  readonly revert?: {
    readonly frontEndpoint: string;
    readonly logLines: () => readonly string[];
  };
  stop(): Promise<void>;
}

/**
 * `--scenario revert` (issue 15): after the rotation, someone sets the header back to the
 * deleted previous key with a direct UpdateDistribution; the deployed drift guard (CloudTrail
 * rule, checkEdge, checkDrift, updateEdge's heal) puts the current key back. The summary is
 * read back from the ledger, the distribution and the functions' metrics.
 */
async function revertScenario(run: DemoRun, revert: NonNullable<DemoRun['revert']>, say: Say) {
  const { world } = run;
  const ids = await rotationIds(world);
  const rotation = ids.length ? await reportRotation(world, ids[ids.length - 1]!) : undefined;
  const current = rotation?.steps.find((s) => s.step === 'KEY_CREATED')?.newKey?.fingerprint;
  say();
  say('Scenario revert: a direct UpdateDistribution sets x-api-key back to the deleted key');
  const changedAt = Date.now();
  await setEdgeHeaderAsOperator(world, revert.frontEndpoint, world.initialKeyValue.reveal());
  await run.drain();
  const history = await ledgerOf(world).history(TARGET_NAME);
  const drift = history.find((s) => s.step === 'DRIFT');
  const healed = history.find((s) => s.step === 'HEALED' && s.rotationId === drift?.rotationId);
  const edge = await readEdge(world);
  const alarm = revert.logLines().some((line) => {
    if (!line.includes('"EdgeDrift"')) return false;
    try {
      const m = JSON.parse(line) as { EdgeDrift?: number; target?: string };
      return (m.EdgeDrift ?? 0) >= 1 && m.target === TARGET_NAME;
    } catch {
      return false;
    }
  });
  const summary = {
    scenario: 'revert',
    healed: healed !== undefined,
    healSeconds: healed ? Math.max(0, (Date.parse(healed.at) - changedAt) / 1000) : null,
    alarm,
    driftRecorded: drift !== undefined,
    edgeSendsCurrentKey: current !== undefined && edge.apiKeyFingerprint === current,
    deniedCalls: run.deniedCalls?.().length ?? 0,
  };
  say(
    `  ${summary.driftRecorded ? '✔' : '✘'} DRIFT recorded; ${summary.healed ? '✔' : '✘'} HEALED after ${summary.healSeconds ?? '-'} s; ${summary.alarm ? '✔' : '✘'} EdgeDrift raised; ${summary.edgeSendsCurrentKey ? '✔' : '✘'} the edge sends the current key`,
  );
  return summary;
}

type Say = (line?: string) => void;

async function startInProcessRun(
  options: ReturnType<typeof parseOptions>,
  say: Say,
): Promise<DemoRun> {
  say('starting local AWS (moto) and provisioning the accounts...');
  const env = await startLocalEnvironment({
    singleAccount: options['single-account'],
    echoLogs: options.verbose,
    // CloudFront takes minutes to deploy a change; the demo compresses it to a few seconds.
    keyrot: {
      cloudFront: new CloudFrontSimulator(options.propagationSeconds * 1000),
      pollIntervalMs: 250,
    },
  });
  return {
    world: env.world,
    endpoint: env.moto.endpoint,
    env,
    fireSchedule: () => env.runner.fireSchedule(),
    drain: async () => {
      await env.runner.drain();
    },
    events: () =>
      env.runner.events.map((e) => ({ detailType: e['detail-type'], account: e.account })),
    stop: () => env.stop(),
  };
}

async function startDeployedRun(
  options: ReturnType<typeof parseOptions>,
  say: Say,
): Promise<DemoRun> {
  say(
    `starting local AWS (moto), creating the ${options.fleet === undefined ? 'target' : `fleet of ${options.fleet}`}, and running \`serverless deploy\` per service...`,
  );
  const moto = await startMoto();
  try {
    const started = Date.now();
    const deployed = await deployLocal(moto.endpoint, {
      singleAccount: options['single-account'],
      log: (line) => say(`  ${line}`),
      ...(options.fleet !== undefined && { fleet: options.fleet }),
    });
    const runner = await DeployedRunner.start(deployed, {
      propagationMs: options.propagationSeconds * 1000,
    });
    say(
      `ran from \`serverless deploy\`: ${deployed.stacks.length} stacks deployed in ${((Date.now() - started) / 1000).toFixed(0)} s; ${runner.functions.length} functions run from their zips with their deployed environment and roles`,
    );
    return {
      world: deployed.world,
      endpoint: moto.endpoint,
      fireSchedule: () => runner.fireRotationSchedule(),
      drain: async () => {
        await runner.drain();
        if (options.verbose)
          for (const l of runner.pool.logs.splice(0)) say(`  ${l.functionName}: ${l.line}`);
      },
      events: () =>
        runner.plane.events.map((e) => ({
          detailType: e['detail-type'],
          account: e.bus.split(':')[4] ?? '',
        })),
      deniedCalls: () =>
        runner.deniedCalls.map(
          (d) => `${d.functionName}: ${d.operation} (${d.action} on ${d.resource}): ${d.reason}`,
        ),
      revert: {
        frontEndpoint: runner.front.endpoint,
        logLines: () => runner.logs.map((l) => l.line),
      },
      ...(options.fleet !== undefined && {
        fleet: {
          targets: deployed.targets,
          mustDenyAllowed: async () =>
            (await mustDenyCalls(runner, deployed)).filter((r) => r.allowed).map((r) => r.name),
        },
      }),
      stop: async () => {
        await runner.stop();
        await moto.stop();
      },
    };
  } catch (error) {
    await moto.stop();
    throw error;
  }
}

async function describeWorld(run: DemoRun, say: Say) {
  const { world } = run;
  const [initialFp, otherFp, edge] = await Promise.all([
    keyFingerprint(world, world.api.initialKeyId),
    keyFingerprint(world, world.api.otherClientKeyId),
    readEdge(world),
  ]);
  say(`local AWS: moto on ${run.endpoint}${world.singleAccount ? ' (single-account mode)' : ''}`);
  say(
    `  API account  ${world.api.session.accountId}: REST API ${world.api.restApiId} stage ${world.api.stageName}, usage plan ${world.api.usagePlanId}`,
  );
  say(
    `               key kloudpepper-api-key ${world.api.initialKeyId} (fingerprint ${initialFp}), other client's key ${world.api.otherClientKeyId} (fingerprint ${otherFp})`,
  );
  say(
    `  edge account ${world.edge.session.accountId}: distribution ${world.edge.distributionId}, origin ${world.edge.originId} sends x-api-key with fingerprint ${edge.apiKeyFingerprint}`,
  );
}

/**
 * `--fleet`: one firing of the deployed schedule rotates every target (the issuer fans its
 * `targets` input out); each target's rotation is read back from its own usage plan,
 * distribution and origin, then the IAM simulation's denied calls and must-deny list. Ends
 * with the one JSON line when `json`.
 */
async function rotateFleet(
  run: DemoRun,
  fleet: NonNullable<DemoRun['fleet']>,
  json: boolean,
  say: Say,
): Promise<number> {
  const { world } = run;
  const { targets } = fleet;
  say(`local AWS: moto on ${run.endpoint}${world.singleAccount ? ' (single-account mode)' : ''}`);
  for (const t of targets) {
    const [keyFp, otherFp, edge] = await Promise.all([
      keyFingerprint(world, t.initialKeyId),
      keyFingerprint(world, t.otherClientKeyId),
      readEdge(world, t),
    ]);
    say(
      `  target ${t.name}: usage plan ${t.usagePlanId}, key ${t.apiKeyName} ${t.initialKeyId} (fingerprint ${keyFp}, adopted), other client's key ${t.otherClientKeyId} (fingerprint ${otherFp})`,
    );
    say(
      `    distribution ${t.distributionId} (account ${world.edge.session.accountId}), origin ${t.originId} sends ${t.headerName} with fingerprint ${edge.apiKeyFingerprint}`,
    );
  }
  say();
  say(
    `Rotation of ${targets.length} targets: firing schedule ${world.api.scheduleName} (${SCHEDULE_EXPRESSION}) once`,
  );
  const before = await Promise.all(targets.map((t) => rotationIds(world, t.name)));
  const eventsBefore = run.events().length;
  await run.fireSchedule();
  await run.drain();
  const counts = new Map<string, number>();
  for (const event of run.events().slice(eventsBefore)) {
    const key = `${event.detailType} on the bus of account ${event.account}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  for (const [key, n] of counts) say(`  event ${key} ×${n}`);
  const results: { name: string; report: RotationReport | undefined }[] = [];
  for (const [i, t] of targets.entries()) {
    const id = (await rotationIds(world, t.name)).find((r) => !before[i]!.includes(r));
    const report = id ? await reportRotation(world, id, t) : undefined;
    results.push({ name: t.name, report });
    say();
    say(`Target ${t.name} (distribution ${t.distributionId} origin ${t.originId}):`);
    if (report) {
      printTimeline(report, say);
      printChecks(report, say);
    } else {
      say('  ✘ no rotation was requested for this target');
    }
  }
  say();
  const denied = run.deniedCalls?.() ?? [];
  say(
    `${denied.length === 0 ? '✔' : '✘'} ${denied.length} AWS calls denied by the IAM simulation of the deployed roles`,
  );
  for (const d of denied) say(`    ${d}`);
  const allowed = await fleet.mustDenyAllowed();
  say(
    `${allowed.length === 0 ? '✔' : '✘'} ${allowed.length} calls of the must-deny list allowed by the deployed roles`,
  );
  for (const name of allowed) say(`    ${name}`);
  if (json) {
    const line = {
      deployed: true,
      targets: results.map(({ name, report }) => ({
        name,
        status: report?.status ?? 'NOT_REQUESTED',
        edgeHeaderMatchesNewKey: report?.edgeHeaderMatchesNewKey ?? false,
      })),
      deniedCalls: denied.length,
      mustDenyAllowed: allowed.length,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
  const ok =
    results.every((r) => r.report !== undefined && passed(r.report)) &&
    denied.length === 0 &&
    allowed.length === 0;
  return ok ? 0 : 1;
}

function printTimeline(report: RotationReport, say: (line?: string) => void) {
  const steps = [...report.steps].sort((a, b) => a.at.localeCompare(b.at));
  const start = Date.parse(steps[0]?.at ?? new Date().toISOString());
  const table = new Table({
    head: ['+ms', 'time (UTC)', 'account', 'function', 'step', 'key id', 'fingerprint'],
    style: { head: [], border: [], compact: true },
  });
  const row = (at: string, step: StepRecord, label: string) => {
    const key = keyOf(step);
    return [
      String(Date.parse(at) - start),
      at.slice(11, 23),
      step.actor.account,
      step.actor.function.replace(/^keyrot-/, ''),
      label,
      key?.ids ?? '',
      key?.fps ?? '',
    ];
  };
  for (const step of steps) {
    // The edge reports two moments in one ledger item: header written, then Deployed.
    const updatedAt = step.step === 'EDGE_UPDATED' ? step.updatedAt : undefined;
    if (updatedAt !== undefined) table.push(row(updatedAt, step, 'EDGE_HEADER_SET'));
    table.push(row(step.at, step, step.step === 'EDGE_UPDATED' ? 'EDGE_DEPLOYED' : step.step));
  }
  say(`Timeline of ${report.rotationId} (from the ledger):`);
  say(table.toString());
}

function keyOf(step: StepRecord) {
  const newKey = newKeyOf(step);
  const keys =
    step.step === 'KEYS_LISTED' || step.step === 'KEYS_RETIRED' ? step.keys : newKey && [newKey];
  if (!keys || keys.length === 0) return undefined;
  return { ids: keys.map((k) => k.id).join(' '), fps: keys.map((k) => k.fingerprint).join(' ') };
}

function printLedger(report: RotationReport, world: LocalWorld, say: Say) {
  const table = new Table({
    head: ['PK', 'SK', 'actor', 'facts'],
    style: { head: [], border: [], compact: true },
  });
  for (const step of report.steps) {
    const error = errorOf(step);
    const facts = { ...detailsOf(step), ...(error && { error: error.name }) };
    table.push([
      `ROTATION#${step.rotationId}`,
      stepSortKey(step.step),
      `${step.actor.function}@${step.actor.account}`,
      Object.entries(facts)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(' ') || '-',
    ]);
  }
  const name = world.api.ledgerTableName;
  say(`Ledger entries (DynamoDB table ${name}, ${report.steps.length} items):`);
  say(table.toString());
}

/** Where `--serve` writes what the CLI needs (gitignored). */
const SERVE_DIR = path.resolve(__dirname, '..', '.tmp', 'demo');

/**
 * Keeps the local world up for the keyrot CLI until SIGINT/SIGTERM: writes the two accounts'
 * credentials as profiles, a targets file and an env.sh, then delivers events as they come
 * (the functions run only when the runner delivers, so `keyrot rotate --wait` needs this).
 */
async function serveForCli(env: LocalEnvironment, say: (line?: string) => void): Promise<void> {
  const { world } = env;
  mkdirSync(SERVE_DIR, { recursive: true });
  const profile = (name: string, side: 'api' | 'edge') => {
    const c = world[side].session.credentials;
    return [
      `[${name}]`,
      `aws_access_key_id = ${c.accessKeyId}`,
      `aws_secret_access_key = ${c.secretAccessKey}`,
      ...(c.sessionToken ? [`aws_session_token = ${c.sessionToken}`] : []),
      '',
    ].join('\n');
  };
  const file = (name: string, content: string) => {
    const at = path.join(SERVE_DIR, name);
    writeFileSync(at, content);
    return at;
  };
  const credentials = file(
    'credentials',
    profile('keyrot-api', 'api') + profile('keyrot-edge', 'edge'),
  );
  const config = file(
    'config',
    `[profile keyrot-api]\nregion = ${world.api.session.region}\n[profile keyrot-edge]\nregion = ${world.api.session.region}\n`,
  );
  const targets = file(
    'keyrot.targets.json',
    `${JSON.stringify(
      [
        {
          name: world.scheduleInput.API_KEY_NAME,
          apiKeyName: world.scheduleInput.API_KEY_NAME,
          usagePlanId: world.api.usagePlanId,
          distributionId: world.edge.distributionId,
          originId: world.edge.originId,
          headerName: 'x-api-key',
        },
      ],
      null,
      2,
    )}\n`,
  );
  const envFile = file(
    'env.sh',
    [
      '# source me: the keyrot CLI then talks to the demo world as the API account',
      `export AWS_SHARED_CREDENTIALS_FILE=${credentials}`,
      `export AWS_CONFIG_FILE=${config}`,
      'export AWS_PROFILE=keyrot-api',
      `export AWS_REGION=${world.api.session.region}`,
      `export AWS_ENDPOINT_URL=${env.moto.endpoint}`,
      `export KEYROT_TARGETS=${targets}`,
      '',
    ].join('\n'),
  );
  say();
  say(`Serving the demo world on ${env.moto.endpoint} for the keyrot CLI (Ctrl-C to stop).`);
  say('In another terminal:');
  say(`  source ${path.relative(process.cwd(), envFile)}`);
  say('  npx keyrot status');
  say('  npx keyrot rotate --target kloudpepper-api-key --wait');
  say('  npx keyrot verify --edge-profile keyrot-edge');
  say(
    `  npx keyrot report --since ${new Date().toISOString().slice(0, 8)}01 --format html > report.html`,
  );
  let stopped = false;
  const stop = () => {
    stopped = true;
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  while (!stopped) {
    try {
      for (const delivery of await env.runner.drain()) {
        say(`  delivered ${delivery.detailType} to ${delivery.service}: ${delivery.result.status}`);
      }
    } catch (error) {
      say(`  runner: ${error instanceof Error ? error.message : String(error)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function passed(r: RotationReport): boolean {
  return (
    r.status === 'COMPLETED' &&
    r.edgeHeaderMatchesNewKey &&
    r.otherClientKeySurvived &&
    r.oldKeysDeleted &&
    r.oldKeyIds.length > 0 &&
    r.lockReleased
  );
}

function printChecks(r: RotationReport, say: (line?: string) => void) {
  const mark = (ok: boolean) => (ok ? '✔' : '✘');
  say('Checks (read back from the emulated AWS):');
  say(`  ${mark(r.status === 'COMPLETED')} rotation ${r.status}`);
  say(`  ${mark(r.edgeHeaderMatchesNewKey)} CloudFront sends the new key ${r.newKeyId}`);
  say(
    `  ${mark(r.oldKeysDeleted && r.oldKeyIds.length > 0)} superseded key(s) deleted: ${r.oldKeyIds.join(', ') || 'none'}`,
  );
  say(`  ${mark(r.otherClientKeySurvived)} the other client's key is untouched`);
  say(`  ${mark(r.lockReleased)} target lock released`);
}

function jsonSummary(reports: RotationReport[]) {
  const summary = (r: RotationReport) => ({
    rotationId: r.rotationId,
    status: r.status,
    oldKeyIds: r.oldKeyIds,
    newKeyId: r.newKeyId,
    edgeHeaderMatchesNewKey: r.edgeHeaderMatchesNewKey,
    otherClientKeySurvived: r.otherClientKeySurvived,
  });
  const last = reports[reports.length - 1]!;
  return reports.length === 1
    ? summary(last)
    : { ...summary(last), rotations: reports.map(summary) };
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
