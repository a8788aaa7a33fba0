/**
 * The whole local keyrot world in one call: a moto server, the two provisioned accounts,
 * keyrot's functions and the event runner; `stop()` tears it all down. Used by the demo and
 * the integration tests. Test infrastructure only.
 */
import { format } from 'node:util';
import { CloudFrontSimulator } from './cloudfront-sim';
import {
  buildFunctions,
  serviceHandlers,
  worldManifestTarget,
  type LocalFunctions,
  type LocalHandler,
  type LocalKeyrotOptions,
} from './local-keyrot';
import { startMoto, type MotoServer } from './moto';
import { provisionTwoAccounts, type LocalWorld } from './provision';
import { EventRunner, type EventRunnerOptions } from './runner';
import { worldSubscriptions, type ServiceName } from './subscriptions';

const CONSOLE_METHODS = ['debug', 'info', 'warn', 'error', 'log', 'trace'] as const;

/**
 * Collects every line the functions log. Powertools Logger writes to the global console when
 * `POWERTOOLS_DEV` is set, so the capture replaces the console's methods while it runs.
 */
export class LogCapture {
  readonly lines: string[] = [];
  private readonly saved = new Map<
    (typeof CONSOLE_METHODS)[number],
    (...args: unknown[]) => void
  >();

  start(echo = false): void {
    process.env.POWERTOOLS_DEV = 'true';
    // Dev mode turns EMF metrics off unless told otherwise; the tests read them.
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    // The local machines run Node 20 (Lambda runs 24); the SDK's notice about it is noise here.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    for (const method of CONSOLE_METHODS) {
      const original = console[method].bind(console);
      this.saved.set(method, original);
      console[method] = (...args: unknown[]) => {
        this.lines.push(format(...args));
        if (echo) original(...args);
      };
    }
  }

  stop(): void {
    for (const [method, original] of this.saved) console[method] = original;
    this.saved.clear();
  }
}

export interface LocalEnvironment {
  readonly moto: MotoServer;
  readonly world: LocalWorld;
  /** Every function, by service and the export its serverless.yml names. */
  readonly functions: LocalFunctions;
  /**
   * One entry per service, for a test that hands it an event directly: the event goes to the
   * service's function whose rule takes its detail-type (`serviceHandlers`).
   */
  readonly handlers: Record<ServiceName, LocalHandler>;
  readonly runner: EventRunner;
  readonly logs: LogCapture;
  stop(): Promise<void>;
}

export interface LocalEnvironmentOptions {
  readonly singleAccount?: boolean;
  readonly keyrot?: LocalKeyrotOptions;
  /** Print the functions' JSON log lines as well as capturing them. */
  readonly echoLogs?: boolean;
  /** Reuse a running moto (reset first, left running by `stop()`); default: start one. */
  readonly moto?: MotoServer;
  /** The event runner's options; its clock defaults to the functions' (`keyrot.clock`). */
  readonly runner?: Omit<EventRunnerOptions, 'cloudTrail'>;
  /**
   * Emulate CloudTrail's `UpdateDistribution` records for the drift guard (moto has none;
   * see {@link EventRunnerOptions.cloudTrail}); off by default, so the event sequences of
   * the other tests stay as they are.
   */
  readonly cloudTrail?: boolean | { readonly delayMs?: number };
}

export async function startLocalEnvironment(
  options: LocalEnvironmentOptions = {},
): Promise<LocalEnvironment> {
  const logs = new LogCapture();
  logs.start(options.echoLogs);
  const owned = options.moto === undefined;
  const moto = options.moto ?? (await startMoto());
  const release = async () => {
    logs.stop();
    if (owned) await moto.stop();
  };
  try {
    if (!owned) await moto.reset();
    const world = await provisionTwoAccounts(moto.endpoint, {
      singleAccount: options.singleAccount ?? false,
    });
    // One simulated CloudFront for the functions and the CloudTrail emulation.
    const cloudFront = options.keyrot?.cloudFront ?? new CloudFrontSimulator();
    const functions = buildFunctions(world, { ...options.keyrot, cloudFront });
    const handlers = serviceHandlers(functions, worldSubscriptions(world));
    const trail = options.cloudTrail;
    const runner = new EventRunner(world, functions, undefined, {
      ...(options.keyrot?.clock && { clock: options.keyrot.clock }),
      ...options.runner,
      ...(trail && {
        cloudTrail: {
          cloudFront,
          targets: [worldManifestTarget(world, options.keyrot?.driftGuard ?? true)],
          ...(typeof trail === 'object' &&
            trail.delayMs !== undefined && {
              delayMs: trail.delayMs,
            }),
        },
      }),
    });
    return {
      moto,
      world,
      functions,
      handlers,
      runner,
      logs,
      stop: async () => {
        runner.close();
        await release();
      },
    };
  } catch (error) {
    await release();
    throw error;
  }
}
