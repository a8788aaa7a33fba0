/**
 * What moto's CloudFront lacks, supplied as SDK middleware on the edge-updater's client
 * (test infrastructure, never product code): a new ETag on every update, `PreconditionFailed`
 * on a stale `IfMatch`, and a propagation window during which the distribution reports
 * `InProgress` before `Deployed`.
 */
import { randomBytes } from 'node:crypto';
import { PreconditionFailed, type CloudFrontClient } from '@aws-sdk/client-cloudfront';

interface DistributionState {
  etag: string;
  deployedAt: number;
}

interface Output {
  ETag?: string;
  Distribution?: { Status?: string };
}

export class CloudFrontSimulator {
  private readonly state = new Map<string, DistributionState>();
  /** UpdateDistribution calls that passed the ETag check. */
  updates = 0;

  constructor(
    /** How long an update takes to reach every edge location. */
    public propagationMs = 0,
    private readonly now: () => number = Date.now,
  ) {}

  /** Makes the distribution change under the next writer, as a concurrent edit would. */
  changeBehindTheScenes(distributionId: string): void {
    const state = this.state.get(distributionId);
    if (state) state.etag = newEtag();
  }

  attach(client: CloudFrontClient): CloudFrontClient {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Id?: string; IfMatch?: string };
        const id = input.Id ?? '';
        const command = context.commandName;
        if (command === 'UpdateDistributionCommand') {
          const state = this.state.get(id);
          if (state && input.IfMatch !== state.etag) {
            throw new PreconditionFailed({
              message: 'The If-Match version is missing or not valid for the resource.',
              $metadata: { httpStatusCode: 412 },
            });
          }
        }
        const result = await next(args);
        const output = result.output as Output;
        if (command === 'UpdateDistributionCommand') {
          this.updates++;
          this.state.set(id, { etag: newEtag(), deployedAt: this.now() + this.propagationMs });
        }
        if (
          command === 'UpdateDistributionCommand' ||
          command === 'GetDistributionConfigCommand' ||
          command === 'GetDistributionCommand'
        ) {
          const state = this.stateOf(id, output.ETag);
          output.ETag = state.etag;
          if (output.Distribution) {
            output.Distribution.Status = this.now() < state.deployedAt ? 'InProgress' : 'Deployed';
          }
        }
        return result;
      },
      { step: 'initialize', name: 'keyrotCloudFrontSimulator' },
    );
    return client;
  }

  private stateOf(id: string, etag: string | undefined): DistributionState {
    let state = this.state.get(id);
    if (!state) {
      state = { etag: etag ?? newEtag(), deployedAt: 0 };
      this.state.set(id, state);
    }
    return state;
  }
}

function newEtag(): string {
  return randomBytes(7).toString('hex').toUpperCase();
}
