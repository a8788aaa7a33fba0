/**
 * A minimal traffic model for the side-by-side comparison (bench code, written because the
 * harness's HTTP traffic simulator was not committed when this was): it watches the SDK calls
 * of the rotation under test and models
 * - the origin: API Gateway accepts a request whose `x-api-key` is a key on the usage plan
 *   (associated and not deleted; the few seconds AWS takes to honour a change are not
 *   modelled, which only flatters the baseline);
 * - the edge: `edgeLocations` locations, each adopting an `UpdateDistribution` at its own
 *   moment within `propagationMs` (the last exactly at its end, when the distribution's
 *   simulator reports `Deployed`);
 * - the load: every `tickMs`, one request through each edge location.
 * Only fingerprints are kept: no key value is stored or printed.
 */
import { fingerprintOf } from '@keyrot/shared';
import type { AnyClient } from './instrument';

interface EdgeVersion {
  readonly fingerprint: string | null;
  readonly adoptAt: number[];
}

export interface TrafficReport {
  readonly requests: number;
  readonly failedRequests: number;
  /** From the first failed request to the last (0 if none failed). */
  readonly outageSeconds: number;
}

export class TrafficModel {
  private readonly live = new Set<string>();
  private readonly keyFingerprints = new Map<string, string>();
  private readonly versions: EdgeVersion[] = [];
  private requests = 0;
  private failed = 0;
  private firstFailure: number | undefined;
  private lastFailure: number | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: {
      edgeLocations: number;
      propagationMs: number;
      tickMs: number;
      originId: string;
      headerName: string;
    },
  ) {}

  /** The state before the rotation: the key every edge sends, live on the plan. */
  begin(initialKey: { id: string; value: string }): void {
    const fp = fingerprintOf(initialKey.value);
    this.keyFingerprints.set(initialKey.id, fp);
    this.live.add(fp);
    this.versions.push({
      fingerprint: fp,
      adoptAt: Array.from({ length: this.options.edgeLocations }, () => 0),
    });
  }

  /** Watches API Gateway calls: keys created, associated and deleted. */
  watchApiGateway<C extends AnyClient>(client: C): C {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        const input = args.input as { keyId?: string; apiKey?: string };
        const output = result.output as { id?: string; value?: string };
        if (context.commandName === 'CreateApiKeyCommand' && output.id && output.value) {
          this.keyFingerprints.set(output.id, fingerprintOf(output.value));
        } else if (context.commandName === 'CreateUsagePlanKeyCommand' && input.keyId) {
          const fp = this.keyFingerprints.get(input.keyId);
          if (fp) this.live.add(fp);
        } else if (context.commandName === 'DeleteApiKeyCommand' && input.apiKey) {
          const fp = this.keyFingerprints.get(input.apiKey);
          if (fp) this.live.delete(fp);
        }
        return result;
      },
      { step: 'initialize', priority: 'low', name: 'benchTrafficApi', override: true },
    );
    return client;
  }

  /** Watches CloudFront updates: each starts propagating to the edge locations. */
  watchCloudFront<C extends AnyClient>(client: C): C {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'UpdateDistributionCommand') {
          const input = args.input as {
            DistributionConfig?: {
              Origins?: {
                Items?: {
                  Id?: string;
                  CustomHeaders?: { Items?: { HeaderName?: string; HeaderValue?: string }[] };
                }[];
              };
            };
          };
          const origin = input.DistributionConfig?.Origins?.Items?.find(
            (o) => o.Id === this.options.originId,
          );
          const header = origin?.CustomHeaders?.Items?.find(
            (h) => h.HeaderName?.toLowerCase() === this.options.headerName,
          );
          const now = Date.now();
          const { edgeLocations, propagationMs } = this.options;
          this.versions.push({
            fingerprint: header?.HeaderValue ? fingerprintOf(header.HeaderValue) : null,
            adoptAt: Array.from(
              { length: edgeLocations },
              (_, i) =>
                now + (i === edgeLocations - 1 ? 1 : (i + 1) / edgeLocations) * propagationMs,
            ),
          });
        }
        return result;
      },
      { step: 'initialize', priority: 'low', name: 'benchTrafficEdge', override: true },
    );
    return client;
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.options.tickMs);
  }

  stop(): TrafficReport {
    if (this.timer) clearInterval(this.timer);
    return {
      requests: this.requests,
      failedRequests: this.failed,
      outageSeconds:
        this.firstFailure === undefined
          ? 0
          : (this.lastFailure! - this.firstFailure + this.options.tickMs) / 1000,
    };
  }

  private tick(): void {
    const now = Date.now();
    for (let edge = 0; edge < this.options.edgeLocations; edge++) {
      const version = [...this.versions].reverse().find((v) => (v.adoptAt[edge] ?? 0) <= now);
      this.requests++;
      if (version?.fingerprint && this.live.has(version.fingerprint)) continue;
      this.failed++;
      this.firstFailure ??= now;
      this.lastFailure = now;
    }
  }
}
