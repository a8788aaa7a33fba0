import {
  GetDistributionCommand,
  GetDistributionConfigCommand,
  NoSuchDistribution,
  PreconditionFailed,
  UpdateDistributionCommand,
  type CloudFrontClient,
  type DistributionConfig,
} from '@aws-sdk/client-cloudfront';
import {
  AwsCallError,
  OriginNotFoundError,
  ResourceNotFoundError,
  SecretValue,
  type Target,
} from '@keyrot/shared';
import { EdgeConfigChangedError, type EdgeConfigStore, type OriginHeader } from '../edge-config';

type EdgeTarget = Pick<Target, 'distributionId' | 'originId' | 'headerName'>;

/** The origin of `config` named by the target, or {@link OriginNotFoundError}. */
function originOf(config: DistributionConfig | undefined, target: EdgeTarget) {
  const origin = config?.Origins?.Items?.find((o) => o.Id === target.originId);
  if (!origin) throw new OriginNotFoundError(target.distributionId, target.originId);
  return origin;
}

const sameHeader = (a: string | undefined, b: string) => a?.toLowerCase() === b.toLowerCase();

function headerFingerprint(config: DistributionConfig | undefined, target: EdgeTarget) {
  const header = originOf(config, target).CustomHeaders?.Items?.find((h) =>
    sameHeader(h.HeaderName, target.headerName),
  );
  return header?.HeaderValue === undefined ? null : new SecretValue(header.HeaderValue).fingerprint;
}

/**
 * {@link EdgeConfigStore} on CloudFront. `UpdateDistribution` replaces the whole config, so
 * the adapter writes back exactly what it read with one header value changed (or added).
 */
export class CloudFrontEdgeConfig implements EdgeConfigStore {
  /** Config read last per distribution, so a write changes exactly what was read. */
  private readonly snapshots = new Map<string, { etag: string; config: DistributionConfig }>();

  constructor(private readonly client: CloudFrontClient) {}

  async readHeader(target: EdgeTarget): Promise<OriginHeader> {
    const out = await this.call('GetDistributionConfig', target, () =>
      this.client.send(new GetDistributionConfigCommand({ Id: target.distributionId })),
    );
    if (!out.ETag || !out.DistributionConfig) {
      throw new AwsCallError('GetDistributionConfig', target.distributionId, 'no config or ETag');
    }
    this.snapshots.set(target.distributionId, { etag: out.ETag, config: out.DistributionConfig });
    return { etag: out.ETag, fingerprint: headerFingerprint(out.DistributionConfig, target) };
  }

  async writeHeader(target: EdgeTarget, etag: string, value: SecretValue): Promise<void> {
    const snapshot = this.snapshots.get(target.distributionId);
    if (!snapshot || snapshot.etag !== etag)
      throw new EdgeConfigChangedError(target.distributionId);
    const config = structuredClone(snapshot.config);
    const origin = originOf(config, target);
    const headers = origin.CustomHeaders?.Items ?? [];
    const existing = headers.find((h) => sameHeader(h.HeaderName, target.headerName));
    if (existing) existing.HeaderValue = value.reveal();
    else headers.push({ HeaderName: target.headerName, HeaderValue: value.reveal() });
    origin.CustomHeaders = { Quantity: headers.length, Items: headers };
    try {
      await this.client.send(
        new UpdateDistributionCommand({
          Id: target.distributionId,
          IfMatch: etag,
          DistributionConfig: config,
        }),
      );
    } catch (error) {
      if (error instanceof PreconditionFailed) {
        throw new EdgeConfigChangedError(target.distributionId);
      }
      throw this.translate('UpdateDistribution', target, error);
    } finally {
      this.snapshots.delete(target.distributionId);
    }
  }

  async deployment(target: EdgeTarget) {
    const out = await this.call('GetDistribution', target, () =>
      this.client.send(new GetDistributionCommand({ Id: target.distributionId })),
    );
    return {
      deployed: out.Distribution?.Status === 'Deployed',
      fingerprint: headerFingerprint(out.Distribution?.DistributionConfig, target),
    };
  }

  private async call<T>(operation: string, target: EdgeTarget, send: () => Promise<T>) {
    try {
      return await send();
    } catch (error) {
      throw this.translate(operation, target, error);
    }
  }

  private translate(operation: string, target: EdgeTarget, error: unknown): Error {
    if (error instanceof NoSuchDistribution) {
      return new ResourceNotFoundError('DISTRIBUTION_ID', target.distributionId);
    }
    return new AwsCallError(operation, `distribution ${target.distributionId}`, error);
  }
}
