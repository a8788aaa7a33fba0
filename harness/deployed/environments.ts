/**
 * Lambda execution environments for the deployed functions: each is a child Node process
 * running bootstrap.mjs on the function's extracted zip, with only the deployed environment,
 * Lambda's own variables and the deployed role's credentials. An environment serves one
 * invocation at a time and is reused (warm) until it fails its init, times out or is stopped,
 * as on Lambda. Test infrastructure only.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { DeployedFunction } from './functions';

/** What an invocation came back with, as Lambda reports it. */
export type InvocationOutcome =
  | { readonly ok: true; readonly value: unknown }
  | {
      readonly ok: false;
      readonly errorType: string;
      readonly errorMessage: string;
    };

/** One line a function wrote (stdout or stderr), as CloudWatch Logs would keep it. */
export interface LogLine {
  readonly functionName: string;
  readonly line: string;
}

/**
 * Variables the harness adds to the deployed environment, named as such: the local AWS
 * endpoint (the front), and silence for the SDK's notice that this machine's Node (20) is
 * older than the runtime's (nodejs24.x).
 */
export interface HarnessVariables {
  readonly AWS_ENDPOINT_URL: string;
  readonly AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true';
}

interface Pending {
  resolve(outcome: InvocationOutcome): void;
  timer: NodeJS.Timeout;
}

const BOOTSTRAP = path.join(__dirname, 'bootstrap.mjs');

/** One warm execution environment of one function. */
class Environment {
  private readonly child: ChildProcess;
  private readonly pending = new Map<string, Pending>();
  dead = false;
  busy = false;

  constructor(
    private readonly fn: DeployedFunction,
    env: Readonly<Record<string, string>>,
    onLog: (line: LogLine) => void,
  ) {
    this.child = fork(BOOTSTRAP, [], {
      cwd: fn.codeDir,
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: [],
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      let buffer = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        buffer += chunk;
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) onLog({ functionName: fn.name, line });
      });
    }
    this.child.on('message', (message: { type: string; id?: string } & InvocationResult) => {
      if (message.type !== 'result' || !message.id) return;
      const pending = this.pending.get(message.id);
      if (!pending) return;
      this.pending.delete(message.id);
      clearTimeout(pending.timer);
      // A failed init restarts the environment on the next invocation, as on Lambda.
      if (message.init) this.stop();
      pending.resolve(
        message.ok
          ? { ok: true, value: message.value }
          : {
              ok: false,
              errorType: message.error.errorType,
              errorMessage: message.error.errorMessage,
            },
      );
    });
    this.child.on('exit', (code, signal) => {
      this.dead = true;
      for (const [id, pending] of this.pending) {
        clearTimeout(pending.timer);
        this.pending.delete(id);
        pending.resolve({
          ok: false,
          errorType: 'Runtime.ExitError',
          errorMessage: `RequestId: ${id} Error: Runtime exited with error: ${signal ?? `exit status ${code}`}`,
        });
      }
    });
  }

  invoke(event: unknown, requestId: string): Promise<InvocationOutcome> {
    const timeoutMs = this.fn.timeoutSeconds * 1000;
    const context = {
      functionName: this.fn.name,
      functionVersion: '$LATEST',
      invokedFunctionArn: this.fn.arn,
      memoryLimitInMB: String(this.fn.memorySize),
      awsRequestId: requestId,
      logGroupName: this.fn.logGroupName,
      logStreamName: `local/[$LATEST]${this.child.pid}`,
      deadlineMs: Date.now() + timeoutMs,
    };
    this.busy = true;
    return new Promise<InvocationOutcome>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        this.stop();
        resolve({
          ok: false,
          errorType: 'Sandbox.Timedout',
          errorMessage: `RequestId: ${requestId} Error: Task timed out after ${this.fn.timeoutSeconds.toFixed(2)} seconds`,
        });
      }, timeoutMs);
      this.pending.set(requestId, { resolve, timer });
      this.child.send({ type: 'invoke', id: requestId, event, context });
    }).finally(() => {
      this.busy = false;
    });
  }

  stop(): void {
    this.dead = true;
    this.child.kill('SIGKILL');
  }
}

interface InvocationResult {
  ok: boolean;
  value?: unknown;
  init?: boolean;
  error: { errorType: string; errorMessage: string };
}

/**
 * The environments of every deployed function: at most the function's reserved concurrency
 * at once (default 10 locally, far below an account's 1,000), started on demand.
 */
export class EnvironmentPool {
  readonly logs: LogLine[] = [];
  private readonly environments = new Map<string, Environment[]>();
  private readonly waiting = new Map<string, (() => void)[]>();

  constructor(
    private readonly variablesOf: (fn: DeployedFunction) => Readonly<Record<string, string>>,
  ) {}

  async invoke(
    fn: DeployedFunction,
    event: unknown,
  ): Promise<InvocationOutcome & { requestId: string }> {
    const environment = await this.acquire(fn);
    const requestId = randomUUID();
    try {
      return { ...(await environment.invoke(event, requestId)), requestId };
    } finally {
      this.release(fn);
    }
  }

  /** Ends a function's environments (its next invocation starts cold). */
  stop(functionName: string): void {
    for (const e of this.environments.get(functionName) ?? []) e.stop();
    this.environments.delete(functionName);
  }

  /** Ends every environment (the next invocation starts cold). */
  stopAll(): void {
    for (const list of this.environments.values()) for (const e of list) e.stop();
    this.environments.clear();
  }

  private async acquire(fn: DeployedFunction): Promise<Environment> {
    for (;;) {
      const list = (this.environments.get(fn.name) ?? []).filter((e) => !e.dead);
      this.environments.set(fn.name, list);
      const idle = list.find((e) => !e.busy);
      if (idle) {
        idle.busy = true;
        return idle;
      }
      if (list.length < (fn.reservedConcurrency ?? 10)) {
        const environment = new Environment(fn, this.variablesOf(fn), (line) =>
          this.logs.push(line),
        );
        environment.busy = true;
        list.push(environment);
        return environment;
      }
      await new Promise<void>((resolve) => {
        const queue = this.waiting.get(fn.name) ?? [];
        queue.push(resolve);
        this.waiting.set(fn.name, queue);
      });
    }
  }

  private release(fn: DeployedFunction): void {
    this.waiting.get(fn.name)?.shift()?.();
  }
}
