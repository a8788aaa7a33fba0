/**
 * Runs the keyrot CLI as a subprocess against the local world, the way an operator would:
 * the API account's session credentials in the environment, `--endpoint` on moto (or on a
 * recording proxy in front of it), the edge account as a profile of a credentials file.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Target } from '@keyrot/shared';
import type { LocalEnvironment } from '../../harness/local-env';
import type { LocalWorld } from '../../harness/provision';

const REPO_ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(REPO_ROOT, 'cli/bin/keyrot.js');
/**
 * Where the CLI runs by default: an empty directory of the operator's, not the repository
 * (whose keyrot.targets.yml names the seed's target, not the local world's).
 */
let operatorDir: string | undefined;
const operatorCwd = () => (operatorDir ??= mkdtempSync(path.join(tmpdir(), 'keyrot-operator-')));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running CLI process: its result once it exits. */
export interface CliProcess {
  readonly done: Promise<CliResult>;
  exited(): boolean;
}

/** Environment of an operator in the API account: its credentials, no profile, no endpoint. */
export function operatorEnv(world: LocalWorld, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { credentials, region } = world.api.session;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    ...(credentials.sessionToken && { AWS_SESSION_TOKEN: credentials.sessionToken }),
    AWS_REGION: region,
    // No stray configuration of the machine running the tests.
    AWS_CONFIG_FILE: path.join(REPO_ROOT, '.no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(REPO_ROOT, '.no-aws-credentials'),
    ...extra,
  };
  return env;
}

/** Starts `keyrot <args>`; stdout and stderr are collected. */
export function startCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd = operatorCwd(),
): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let finished = false;
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      finished = true;
      resolve({ code, stdout, stderr });
    });
  });
  return { done, exited: () => finished };
}

/** Runs `keyrot <args>` to its end. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string) {
  return startCli(args, env, cwd).done;
}

/**
 * Runs the CLI while the test delivers the events it causes: in the local world the functions
 * run only when the runner drains the buses, so `rotate --wait` needs both at once.
 */
export async function runCliWhileDraining(
  env: LocalEnvironment,
  args: readonly string[],
  processEnv: NodeJS.ProcessEnv,
): Promise<CliResult> {
  const cli = startCli(args, processEnv);
  while (!cli.exited()) {
    await env.runner.drain();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await env.runner.drain();
  return cli.done;
}

/** A scratch directory for targets and credentials files. */
export function scratchDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'keyrot-cli-'));
}

/** The world's target as a targets file entry (overrides for a broken one). */
export function worldTarget(world: LocalWorld, overrides: Partial<Target> = {}): Target {
  return {
    name: 'kloudpepper-api-key',
    apiKeyName: 'kloudpepper-api-key',
    usagePlanId: world.api.usagePlanId,
    distributionId: world.edge.distributionId,
    originId: world.edge.originId,
    headerName: 'x-api-key',
    ...overrides,
  };
}

export function writeTargetsFile(dir: string, name: string, targets: readonly Target[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, `${JSON.stringify(targets, null, 2)}\n`);
  return file;
}

/**
 * An operator whose credentials for both accounts are profiles (`keyrot-api`,
 * `keyrot-edge`) in a shared credentials file, with none in the environment: as with
 * `--profile` and `--edge-profile` on a workstation.
 */
export function profilesEnv(world: LocalWorld): NodeJS.ProcessEnv {
  const processEnv: NodeJS.ProcessEnv = {
    ...operatorEnv(world),
    AWS_SHARED_CREDENTIALS_FILE: writeCredentialsFile(scratchDir(), world),
  };
  delete processEnv.AWS_ACCESS_KEY_ID;
  delete processEnv.AWS_SECRET_ACCESS_KEY;
  delete processEnv.AWS_SESSION_TOKEN;
  return processEnv;
}

/** A shared credentials file with profiles `keyrot-api` and `keyrot-edge`. */
export function writeCredentialsFile(dir: string, world: LocalWorld): string {
  const file = path.join(dir, 'credentials');
  const profile = (name: string, c: LocalWorld['api']['session']['credentials']) =>
    [
      `[${name}]`,
      `aws_access_key_id = ${c.accessKeyId}`,
      `aws_secret_access_key = ${c.secretAccessKey}`,
      ...(c.sessionToken ? [`aws_session_token = ${c.sessionToken}`] : []),
      '',
    ].join('\n');
  writeFileSync(
    file,
    profile('keyrot-api', world.api.session.credentials) +
      profile('keyrot-edge', world.edge.session.credentials),
  );
  return file;
}

/**
 * An HTTP proxy in front of moto that notes every AWS call going through it: for JSON
 * protocols (DynamoDB, EventBridge) the `X-Amz-Target` operation, for REST ones the method
 * and path. Tests read what the CLI really sent.
 */
export class RecordingProxy {
  readonly calls: string[] = [];
  private server: Server | undefined;

  constructor(private readonly upstream: string) {}

  async start(): Promise<string> {
    const upstream = new URL(this.upstream);
    this.server = createServer((req, res) => {
      const target = req.headers['x-amz-target'];
      this.calls.push(typeof target === 'string' ? target : `${req.method} ${req.url}`);
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** DynamoDB operations called, e.g. `Query`. */
  dynamoDbOperations(): string[] {
    return this.calls
      .filter((c) => c.startsWith('DynamoDB_20120810.'))
      .map((c) => c.slice('DynamoDB_20120810.'.length));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }
}
