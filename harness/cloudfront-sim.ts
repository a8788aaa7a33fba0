/**
 * What moto's CloudFront lacks, supplied as SDK middleware on the edge-updater's client
 * (test infrastructure, never product code): a new ETag on every update, `PreconditionFailed`
 * on a stale `IfMatch`, and propagation to simulated edge locations. Each location adopts an
 * update after its own delay within the propagation window; the distribution reports
 * `InProgress` until the last one has, then `Deployed`. The traffic harness's edge proxy
 * (`traffic/edge-proxy.ts`) forwards each request with the origin headers its location has
 * adopted, so what the edge-updater sees and what the edges send come from one model.
 */
import { randomBytes } from 'node:crypto';
import {
  GetDistributionConfigCommand,
  PreconditionFailed,
  type CloudFrontClient,
  type DistributionConfig,
} from '@aws-sdk/client-cloudfront';

/** One origin of a config as an edge location uses it. Header values stay in memory only. */
export interface EdgeOrigin {
  readonly domainName: string;
  readonly originPath: string;
  /** Custom headers by lower-case name. */
  readonly headers: ReadonlyMap<string, string>;
}

interface Version {
  readonly origins: ReadonlyMap<string, EdgeOrigin>;
  /** Per edge location: when it adopts this version (simulated ms; Infinity: never). */
  readonly adoptAt: number[];
}

interface DistributionState {
  etag: string;
  /** An update is being applied (moto has not answered yet). */
  writing?: boolean;
  /** Oldest first; the last is the current config. */
  readonly versions: Version[];
}

interface Output {
  ETag?: string;
  DistributionConfig?: DistributionConfig;
  Distribution?: { Status?: string; DistributionConfig?: DistributionConfig };
}

export interface CloudFrontSimulatorOptions {
  /** How long an update takes to reach the edge locations, in simulated ms (default 0). */
  readonly propagationMs?: number;
  /**
   * Simulated edge locations (default 1). One location adopts an update exactly at the end of
   * the window; several adopt at random times within it (see `random`).
   */
  readonly edgeLocations?: number;
  /** Simulated time; default `Date.now`. */
  readonly now?: () => number;
  /** Random source for the adoption delays (seed it for reproducible runs). */
  readonly random?: () => number;
  /**
   * Whether an update's IfMatch check and its write are one atomic step, as on CloudFront
   * (default true). False, for a negative control that shows a duplicate write is seen: two
   * writers holding the same ETag may both pass the check, and `beforeNextUpdate`'s edit
   * runs between the check and the write (so a test can hold the first writer there).
   */
  readonly atomicUpdates?: boolean;
}

type UpdateListener = (distributionId: string) => void;

export class CloudFrontSimulator {
  private readonly state = new Map<string, DistributionState>();
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly atomicUpdates: boolean;
  private readonly listeners: UpdateListener[] = [];
  private beforeUpdate: (() => Promise<void>) | undefined;
  /** Edge locations that adopt no update from now on (an edge that never deploys). */
  private stuck = 0;
  /** How long an update takes to reach the edge locations (simulated ms). */
  propagationMs: number;
  readonly edgeLocations: number;
  /** UpdateDistribution calls that passed the ETag check. */
  updates = 0;

  constructor(options: number | CloudFrontSimulatorOptions = {}, now?: () => number) {
    const o = typeof options === 'number' ? { propagationMs: options, now } : options;
    this.propagationMs = o.propagationMs ?? 0;
    this.edgeLocations = o.edgeLocations ?? 1;
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
    this.atomicUpdates = o.atomicUpdates ?? true;
  }

  /** Makes the distribution change under the next writer, as a concurrent edit would. */
  changeBehindTheScenes(distributionId: string): void {
    const state = this.state.get(distributionId);
    if (state) state.etag = newEtag();
  }

  /** Runs `edit` inside the next UpdateDistribution, before its `IfMatch` is checked. */
  beforeNextUpdate(edit: () => Promise<void>): void {
    this.beforeUpdate = edit;
  }

  /** Calls `listener` after each update that passed the ETag check. */
  onUpdate(listener: UpdateListener): void {
    this.listeners.push(listener);
  }

  /** From now on, `count` edge locations adopt no update (the distribution never deploys). */
  stickEdges(count: number): void {
    this.stuck = Math.min(count, this.edgeLocations);
  }

  /** The stuck locations catch up now. */
  releaseStuckEdges(): void {
    this.stuck = 0;
    const now = this.now();
    for (const state of this.state.values()) {
      for (const version of state.versions) {
        version.adoptAt.forEach((at, i) => {
          if (at === Infinity) version.adoptAt[i] = now;
        });
      }
    }
  }

  /** Reads the distribution's config through `client` so the edges start from it. */
  async track(client: CloudFrontClient, distributionId: string): Promise<void> {
    await this.attach(client).send(new GetDistributionConfigCommand({ Id: distributionId }));
  }

  /** The config edge location `edge` uses now (undefined for an unknown distribution). */
  adoptedOrigins(
    distributionId: string,
    edge: number,
  ): ReadonlyMap<string, EdgeOrigin> | undefined {
    const versions = this.state.get(distributionId)?.versions ?? [];
    const now = this.now();
    for (let i = versions.length - 1; i >= 0; i--) {
      if ((versions[i]!.adoptAt[edge] ?? Infinity) <= now) return versions[i]!.origins;
    }
    return undefined;
  }

  /** `Deployed` when every edge location has adopted the current config. */
  status(distributionId: string): 'Deployed' | 'InProgress' {
    const current = this.state.get(distributionId)?.versions.at(-1);
    if (!current) return 'Deployed';
    return Math.max(...current.adoptAt) <= this.now() ? 'Deployed' : 'InProgress';
  }

  attach(client: CloudFrontClient): CloudFrontClient {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Id?: string; IfMatch?: string; DistributionConfig?: unknown };
        const id = input.Id ?? '';
        const command = context.commandName;
        if (command === 'UpdateDistributionCommand') {
          const edit = this.beforeUpdate;
          this.beforeUpdate = undefined;
          if (this.atomicUpdates) await edit?.();
          const state = this.state.get(id);
          // CloudFront applies an update atomically with its IfMatch check: a concurrent
          // writer holding the same ETag is refused while moto applies the first.
          if (state && (input.IfMatch !== state.etag || state.writing)) {
            throw new PreconditionFailed({
              message: 'The If-Match version is missing or not valid for the resource.',
              $metadata: { httpStatusCode: 412 },
            });
          }
          if (state && this.atomicUpdates) state.writing = true;
          // Not atomic (a negative control): the edit runs between the check and the write.
          if (!this.atomicUpdates) await edit?.();
        }
        // A read sees the ETag of the config it started on: one that moto answers after a
        // concurrent update was applied is refused on write, never taken for the new one.
        const etagAtStart = this.state.get(id)?.etag;
        let result: Awaited<ReturnType<typeof next>>;
        try {
          result = await next(args);
        } finally {
          const state = this.state.get(id);
          if (command === 'UpdateDistributionCommand' && state) state.writing = false;
        }
        const output = result.output as Output;
        if (command === 'UpdateDistributionCommand') {
          this.updates++;
          const config = input.DistributionConfig as DistributionConfig;
          const state = this.stateOf(id, undefined, config);
          state.etag = newEtag();
          state.versions.push({ origins: originsOf(config), adoptAt: this.adoptionTimes() });
          for (const listener of this.listeners) listener(id);
        }
        if (
          command === 'UpdateDistributionCommand' ||
          command === 'GetDistributionConfigCommand' ||
          command === 'GetDistributionCommand'
        ) {
          const config = output.DistributionConfig ?? output.Distribution?.DistributionConfig;
          const state = this.stateOf(id, output.ETag, config);
          output.ETag =
            command === 'UpdateDistributionCommand' ? state.etag : (etagAtStart ?? state.etag);
          if (output.Distribution) output.Distribution.Status = this.status(id);
        }
        return result;
      },
      { step: 'initialize', name: 'keyrotCloudFrontSimulator' },
    );
    return client;
  }

  private adoptionTimes(): number[] {
    const now = this.now();
    return Array.from({ length: this.edgeLocations }, (_, i) => {
      if (i < this.stuck) return Infinity;
      const delay =
        this.edgeLocations === 1 ? this.propagationMs : this.random() * this.propagationMs;
      return now + delay;
    });
  }

  /** The distribution's state; the first sight of it is its initial, fully deployed config. */
  private stateOf(
    id: string,
    etag: string | undefined,
    config: DistributionConfig | undefined,
  ): DistributionState {
    let state = this.state.get(id);
    if (!state) {
      state = {
        etag: etag ?? newEtag(),
        versions: [
          {
            origins: originsOf(config),
            adoptAt: Array.from({ length: this.edgeLocations }, () => -Infinity),
          },
        ],
      };
      this.state.set(id, state);
    }
    return state;
  }
}

function originsOf(config: DistributionConfig | undefined): Map<string, EdgeOrigin> {
  return new Map(
    (config?.Origins?.Items ?? []).map((origin) => [
      origin.Id ?? '',
      {
        domainName: origin.DomainName ?? '',
        originPath: origin.OriginPath ?? '',
        headers: new Map(
          (origin.CustomHeaders?.Items ?? []).map((h) => [
            (h.HeaderName ?? '').toLowerCase(),
            h.HeaderValue ?? '',
          ]),
        ),
      },
    ]),
  );
}

function newEtag(): string {
  return randomBytes(7).toString('hex').toUpperCase();
}
