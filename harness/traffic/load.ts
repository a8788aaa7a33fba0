/**
 * Live traffic for the chaos tests: a few loops that keep sending `GET /hello` through the
 * edge proxy, spread over every edge location, until stopped or until a bound on count or
 * time is reached. Every answer other than 2xx (and every connection error) is a failed
 * request. Loopback only. Test infrastructure only.
 */
import { Agent, get } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Clock } from '@keyrot/shared';
import { EDGE_HEADER } from './edge-proxy';

export interface LoadOptions {
  /** Requests in flight at once (default 4). */
  readonly concurrency?: number;
  /** Real ms each loop pauses between two requests (default 2). */
  readonly pauseMs?: number;
  /** Upper bounds: the load stops by itself at either (defaults 200 000 and 10 minutes). */
  readonly maxRequests?: number;
  readonly maxDurationMs?: number;
  /** Edge locations to spread the requests over (default 1). */
  readonly edgeLocations?: number;
  /** Path below the distribution (default `/hello`). */
  readonly path?: string;
  /**
   * Headers every request carries, e.g. a client's own `x-api-key` when the load goes to the
   * origin directly. Values stay in memory: they are never reported.
   */
  readonly headers?: Readonly<Record<string, string>>;
  /** The clock that times the first and last failed request (default: real time). */
  readonly clock?: Clock;
}

export interface LoadReport {
  readonly sent: number;
  readonly ok: number;
  readonly failed: number;
  /** Failed requests by HTTP status (`error` for a connection error). */
  readonly failures: Readonly<Record<string, number>>;
  /** Failed requests by edge location. */
  readonly failedByEdge: readonly number[];
  /** Requests per edge location. */
  readonly sentByEdge: readonly number[];
  readonly durationMs: number;
  /** When the first and the last failed request were sent, in ms on the load's clock. */
  readonly firstFailureAt: number | null;
  readonly lastFailureAt: number | null;
  /** True when the load stopped at a bound rather than when it was told to. */
  readonly bounded: boolean;
}

export class LoadClient {
  private readonly agent: Agent;
  private readonly base: URL;
  private running = false;
  private loops: Promise<void>[] = [];
  private startedAt = 0;
  private sent = 0;
  private ok = 0;
  private bounded = false;
  private firstFailureAt: number | null = null;
  private lastFailureAt: number | null = null;
  private readonly failures: Record<string, number> = {};
  private readonly failedByEdge: number[];
  private readonly sentByEdge: number[];

  constructor(
    baseUrl: string,
    private readonly options: LoadOptions = {},
  ) {
    this.base = new URL(baseUrl);
    if (this.base.hostname !== '127.0.0.1' || this.base.protocol !== 'http:') {
      throw new Error(`load: loopback only (http://127.0.0.1), not ${this.base.origin}`);
    }
    this.agent = new Agent({ keepAlive: true, maxSockets: options.concurrency ?? 4 });
    const edges = options.edgeLocations ?? 1;
    this.failedByEdge = Array.from({ length: edges }, () => 0);
    this.sentByEdge = Array.from({ length: edges }, () => 0);
  }

  /** Starts the loops; the load runs until {@link stop} or a bound. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.startedAt = performance.now();
    const concurrency = this.options.concurrency ?? 4;
    this.loops = Array.from({ length: concurrency }, (_, i) => this.loop(i));
  }

  /** Stops the loops, waits for the requests in flight, and reports. */
  async stop(): Promise<LoadReport> {
    this.running = false;
    await Promise.all(this.loops);
    this.agent.destroy();
    return this.report();
  }

  report(): LoadReport {
    return {
      sent: this.sent,
      ok: this.ok,
      failed: this.sent - this.ok,
      failures: { ...this.failures },
      failedByEdge: [...this.failedByEdge],
      sentByEdge: [...this.sentByEdge],
      durationMs: this.startedAt ? performance.now() - this.startedAt : 0,
      firstFailureAt: this.firstFailureAt,
      lastFailureAt: this.lastFailureAt,
      bounded: this.bounded,
    };
  }

  private async loop(index: number): Promise<void> {
    const edges = this.failedByEdge.length;
    const maxRequests = this.options.maxRequests ?? 200_000;
    const maxDurationMs = this.options.maxDurationMs ?? 600_000;
    for (let n = index; this.running; n++) {
      if (this.sent >= maxRequests || performance.now() - this.startedAt >= maxDurationMs) {
        this.bounded = true;
        this.running = false;
        break;
      }
      const edge = n % edges;
      this.sent++;
      this.sentByEdge[edge]!++;
      const sentAt = this.options.clock?.now().getTime() ?? performance.now();
      const status = await this.request(edge);
      if (typeof status === 'number' && status >= 200 && status < 300) this.ok++;
      else {
        this.firstFailureAt = Math.min(this.firstFailureAt ?? sentAt, sentAt);
        this.lastFailureAt = Math.max(this.lastFailureAt ?? sentAt, sentAt);
        const key = String(status);
        this.failures[key] = (this.failures[key] ?? 0) + 1;
        this.failedByEdge[edge]!++;
      }
      await new Promise((resolve) => setTimeout(resolve, this.options.pauseMs ?? 2));
    }
  }

  private request(edge: number): Promise<number | 'error'> {
    const url = new URL(this.options.path ?? '/hello', this.base);
    return new Promise((resolve) => {
      const req = get(
        url,
        { agent: this.agent, headers: { ...this.options.headers, [EDGE_HEADER]: String(edge) } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', () => resolve('error'));
        },
      );
      req.setTimeout(10_000, () => req.destroy());
      req.on('error', () => resolve('error'));
    });
  }
}
