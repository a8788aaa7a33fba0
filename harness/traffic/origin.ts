/**
 * The API Gateway stage as the traffic tests need it, on 127.0.0.1 (moto cannot invoke a
 * stage and never enforces `apiKeyRequired`): 200 only for a request whose `x-api-key` is a
 * key currently associated with the usage plan in the API account and still existing (moto
 * keeps the plan entry of a deleted key), read back from moto. Like API Gateway, a newly
 * associated key is honoured only after an activation delay, and a removed one keeps working
 * for a deactivation delay. Test infrastructure only.
 *
 * Keys are known by the SHA-256 of their value: the simulator holds no key value.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  APIGatewayClient,
  GetApiKeysCommand,
  GetUsagePlanCommand,
  GetUsagePlanKeysCommand,
  NotFoundException,
} from '@aws-sdk/client-api-gateway';
import type { Clock } from '@keyrot/shared';
import { clientConfig } from '../accounts';
import { STAGE_NAME, type LocalWorld } from '../provision';

export interface OriginOptions {
  /** Simulated time (the functions' clock). */
  readonly clock: Clock;
  /** Simulated ms before a newly associated key is honoured (default 5 s). */
  readonly activationDelayMs?: number;
  /** Simulated ms a deleted or removed key keeps working (default 5 s). */
  readonly deactivationDelayMs?: number;
  /**
   * Real ms between two reads of the usage plan from moto (default 250); {@link refresh}
   * reads it at once, e.g. right after a call that changed it.
   */
  readonly pollIntervalMs?: number;
}

interface KeyState {
  /** When the key was first seen live (simulated ms). */
  readonly since: number;
  /** When it was first seen gone, if it is. */
  goneAt?: number;
}

const HOST = '127.0.0.1';

const hash = (value: string) => createHash('sha256').update(value, 'utf8').digest('hex');

export class OriginSimulator {
  private readonly keys = new Map<string, KeyState>();
  private client: APIGatewayClient | undefined;
  private usagePlanId = '';
  private polling: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private reads = 0;
  private planExists = true;
  /** Requests answered, by status. */
  readonly answered = { ok: 0, forbidden: 0 };
  /** Reads of the plan that failed (moto unreachable): the last view is kept meanwhile. */
  pollErrors = 0;

  private constructor(
    private readonly server: Server,
    private readonly options: OriginOptions,
  ) {}

  /** Starts listening on a free port of 127.0.0.1; call {@link watch} once the world exists. */
  static async listen(options: OriginOptions): Promise<OriginSimulator> {
    const server = createServer();
    const origin = new OriginSimulator(server, options);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => origin.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, HOST, resolve);
    });
    return origin;
  }

  /** `http://127.0.0.1:<port>`: what the edge proxy forwards to. */
  get baseUrl(): string {
    return `http://${HOST}:${(this.server.address() as AddressInfo).port}`;
  }

  /** The stage's health path, for keyrot's readiness probe (`HEALTH_CHECK_URL`). */
  get healthUrl(): string {
    return `${this.baseUrl}/${STAGE_NAME}/health`;
  }

  /** Starts following the world's usage plan; the keys live now count as active already. */
  async watch(world: LocalWorld): Promise<void> {
    this.client = new APIGatewayClient(clientConfig(world.api.session));
    this.usagePlanId = world.api.usagePlanId;
    const live = await this.readLiveKeys();
    for (const key of live) this.keys.set(key, { since: -Infinity });
    this.schedulePoll();
  }

  /** Whether a request with this key value would pass now. */
  accepts(value: string | undefined): boolean {
    if (!value) return false;
    const state = this.keys.get(hash(value));
    if (!state) return false;
    const now = this.options.clock.now().getTime();
    if (now < state.since + (this.options.activationDelayMs ?? 5_000)) return false;
    return (
      state.goneAt === undefined || now < state.goneAt + (this.options.deactivationDelayMs ?? 5_000)
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
    this.client?.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const header = req.headers['x-api-key'];
    const ok = this.accepts(Array.isArray(header) ? header[0] : header);
    if (ok) this.answered.ok++;
    else this.answered.forbidden++;
    req.resume();
    res.writeHead(ok ? 200 : 403, { 'content-type': 'application/json' });
    res.end(ok ? '{"message":"hello"}' : '{"message":"Forbidden"}');
  }

  /**
   * Reads the plan again now (after the one in progress, if any), as API Gateway's control
   * plane learns of a change; the activation and deactivation delays start from there.
   */
  refresh(): void {
    if (this.stopped || !this.client) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const previous = this.polling ?? Promise.resolve();
    this.polling = previous.then(() => this.poll()).finally(() => this.schedulePoll());
  }

  private schedulePoll(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.polling = this.poll().finally(() => this.schedulePoll());
    }, this.options.pollIntervalMs ?? 250);
  }

  private async poll(): Promise<void> {
    let live: Set<string>;
    try {
      live = await this.readLiveKeys();
    } catch {
      this.pollErrors++;
      return;
    }
    const now = this.options.clock.now().getTime();
    for (const key of live) {
      const state = this.keys.get(key);
      // A key seen again after it was gone (re-added) starts over, as a new association.
      if (!state || state.goneAt !== undefined) this.keys.set(key, { since: now });
    }
    for (const [key, state] of this.keys) {
      if (!live.has(key) && state.goneAt === undefined) state.goneAt = now;
    }
  }

  /** Hashes of the keys on the plan that still exist and are enabled (none without a plan). */
  private async readLiveKeys(): Promise<Set<string>> {
    const client = this.client!;
    // Whether the plan still exists (moto keeps listing a deleted plan's keys); every few
    // reads, which keeps the load on moto down.
    if (this.reads++ % 4 === 0) {
      try {
        await client.send(new GetUsagePlanCommand({ usagePlanId: this.usagePlanId }));
        this.planExists = true;
      } catch (error) {
        if (!(error instanceof NotFoundException)) throw error;
        this.planExists = false;
      }
    }
    if (!this.planExists) return new Set();
    const [planKeys, apiKeys] = await Promise.all([
      client.send(new GetUsagePlanKeysCommand({ usagePlanId: this.usagePlanId, limit: 500 })),
      client.send(new GetApiKeysCommand({ limit: 500 })),
    ]);
    const usable = new Set(
      (apiKeys.items ?? []).filter((k) => k.enabled !== false).map((k) => k.id),
    );
    return new Set(
      (planKeys.items ?? []).filter((k) => usable.has(k.id) && k.value).map((k) => hash(k.value!)),
    );
  }
}
