/**
 * Starts and stops a local moto server (AWS APIs emulated in server mode) for the demo and
 * the integration tests. Test infrastructure only: product code never imports this.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

/** A running moto server on 127.0.0.1. */
export interface MotoServer {
  /** `http://127.0.0.1:<port>`: the value for `AWS_ENDPOINT_URL` and SDK `endpoint`. */
  readonly endpoint: string;
  readonly port: number;
  /**
   * CPU seconds the server process has used so far (user + system, from /proc on Linux;
   * undefined elsewhere): the benchmark reports the emulator's share of a run with it.
   */
  cpuSeconds(): number | undefined;
  /** Clears every account's state (`POST /moto-api/reset`). */
  reset(): Promise<void>;
  /** Stops the server (SIGTERM, SIGKILL after 5 s). Safe to call more than once. */
  stop(): Promise<void>;
}

export interface StartMotoOptions {
  /** Repository root holding `.venv`; defaults to the parent of this module's folder. */
  readonly repoRoot?: string;
  /** How long to wait for `GET /moto-api/` to answer 200; default 30 s. */
  readonly startTimeoutMs?: number;
  /**
   * Load the services keyrot uses before returning (default true). moto imports each service on
   * its first request (API Gateway alone takes ~0.6 s); warming up keeps later timings steady.
   */
  readonly warmUp?: boolean;
}

const HOST = '127.0.0.1';
const DEFAULT_START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
const POLL_INTERVAL_MS = 100;
const STDERR_TAIL_CHARS = 4_000;

/** Starts moto from `<repoRoot>/.venv` on a free port and waits until it answers. */
export async function startMoto(options: StartMotoOptions = {}): Promise<MotoServer> {
  const repoRoot = options.repoRoot ?? path.resolve(__dirname, '..');
  const python = path.join(repoRoot, '.venv', 'bin', 'python');
  if (!existsSync(python)) {
    throw new Error('moto is not installed: run "npm run setup" first');
  }
  const port = await findFreePort();
  const endpoint = `http://${HOST}:${port}`;
  const child = spawnMoto(python, port, repoRoot);
  const stderr = captureStderrTail(child);
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);

  const server = createHandle(endpoint, port, child, () => process.off('exit', killOnExit));
  try {
    await waitUntilReady(endpoint, child, options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    if (options.warmUp ?? true) {
      await warmUp(endpoint);
    }
  } catch (error) {
    await server.stop();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`moto server did not start on ${endpoint}: ${reason}\n${stderr()}`, {
      cause: error,
    });
  }
  return server;
}

/** Asks the OS for a free TCP port on 127.0.0.1 (listen on port 0, read it, close). */
export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port found'))));
    });
  });
}

/**
 * Spawns moto's server through harness/moto_server.py (moto with speed fixes that change no
 * answer, corrections that make it answer as AWS does, and the CloudFormation support of
 * harness/moto_cloudformation.py; see those files); MOTO_ACCOUNT_ID is removed so credentials
 * pick the account.
 */
function spawnMoto(python: string, port: number, cwd: string): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1' };
  delete env['MOTO_ACCOUNT_ID'];
  const launcher = path.join(__dirname, 'moto_server.py');
  return spawn(python, [launcher, '-H', HOST, '-p', String(port)], {
    cwd,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/** Keeps the last few KB of the child's stderr (and spawn errors); returns a reader. */
function captureStderrTail(child: ChildProcess): () => string {
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-STDERR_TAIL_CHARS);
  });
  child.on('error', (error) => {
    tail = `${tail}\nspawn error: ${error.message}`.slice(-STDERR_TAIL_CHARS);
  });
  return () => (tail.length > 0 ? `moto stderr (last lines):\n${tail}` : 'moto stderr: (empty)');
}

/** Polls `GET /moto-api/` until 200, failing early if the process exits. */
async function waitUntilReady(endpoint: string, child: ChildProcess, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.pid === undefined) {
      throw new Error('could not spawn the moto process');
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`process exited early (code ${child.exitCode}, signal ${child.signalCode})`);
    }
    if (await answers(`${endpoint}/moto-api/`)) {
      return;
    }
    await delay(POLL_INTERVAL_MS);
  }
  throw new Error(`no answer from ${endpoint}/moto-api/ within ${timeoutMs} ms`);
}

/** One harmless read-only call per service keyrot uses (in moto's default account). */
const WARM_UP_CALLS: ReadonlyArray<{
  service: string;
  path: string;
  target?: string;
  body?: string;
}> = [
  { service: 'apigateway', path: '/apikeys' },
  { service: 'cloudfront', path: '/2020-05-31/distribution' },
  { service: 'scheduler', path: '/schedules' },
  { service: 'dynamodb', path: '/', target: 'DynamoDB_20120810.ListTables' },
  { service: 'events', path: '/', target: 'AWSEvents.ListEventBuses' },
  { service: 'kms', path: '/', target: 'TrentService.ListKeys' },
  { service: 'sqs', path: '/', target: 'AmazonSQS.ListQueues' },
  { service: 'sts', path: '/', body: 'Action=GetCallerIdentity&Version=2011-06-15' },
];

/**
 * Sends the warm-up calls. moto routes by the credential scope of the Authorization header and
 * does not check signatures, so a fixed fake header suffices.
 */
async function warmUp(endpoint: string): Promise<void> {
  const results = await Promise.all(
    WARM_UP_CALLS.map(async ({ service, path: callPath, target, body }) => {
      const headers: Record<string, string> = {
        authorization: `AWS4-HMAC-SHA256 Credential=testing/20200101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`,
      };
      if (target !== undefined) {
        headers['x-amz-target'] = target;
        headers['content-type'] = 'application/x-amz-json-1.0';
      } else if (body !== undefined) {
        headers['content-type'] = 'application/x-www-form-urlencoded';
      }
      const post = target !== undefined || body !== undefined;
      const response = await fetch(`${endpoint}${callPath}`, {
        method: post ? 'POST' : 'GET',
        headers,
        ...(post ? { body: body ?? '{}' } : {}),
      });
      await response.arrayBuffer();
      return `${service}: HTTP ${response.status}`;
    }),
  );
  const failed = results.filter((result) => !result.endsWith('HTTP 200'));
  if (failed.length > 0) {
    throw new Error(`warm-up calls failed (${failed.join(', ')})`);
  }
}

/** True when a GET to `url` answers 200; false on any connection error. */
async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/** The MotoServer handle: reset via the moto API, stop via signals (idempotent). */
function createHandle(
  endpoint: string,
  port: number,
  child: ChildProcess,
  forget: () => void,
): MotoServer {
  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    port,
    cpuSeconds: () => processCpuSeconds(child.pid),
    async reset() {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      await response.arrayBuffer();
      if (!response.ok) {
        throw new Error(`moto reset failed: HTTP ${response.status}`);
      }
    },
    stop() {
      stopping ??= terminate(child).finally(forget);
      return stopping;
    },
  };
}

/** utime + stime of a process (fields 14 and 15 of /proc/<pid>/stat), in seconds. */
function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after it are space-separated.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks / CLOCK_TICKS_PER_SECOND : undefined;
  } catch {
    return undefined;
  }
}

/** Linux's USER_HZ: /proc reports CPU time in these ticks on every architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** SIGTERM, then SIGKILL if the process is still alive after the grace period. */
async function terminate(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
