import {
  CloudFrontClient,
  GetDistributionCommand,
  GetDistributionConfigCommand,
  NoSuchDistribution,
  PreconditionFailed,
  UpdateDistributionCommand,
  type DistributionConfig,
  type Origin,
} from '@aws-sdk/client-cloudfront';
import {
  AwsCallError,
  fingerprintOf,
  OriginNotFoundError,
  ResourceNotFoundError,
  SecretValue,
} from '@keyrot/shared';
import { mockClient } from 'aws-sdk-client-mock';
import { CloudFrontEdgeConfig } from '../src/adapters/cloudfront-edge';
import { EdgeConfigChangedError } from '../src/edge-config';
import { failureOf, omit } from '../../../test/support/fixtures';

const cloudFront = mockClient(CloudFrontClient);

const DISTRIBUTION = 'E1MTSB8DGIOBI2';
const target = {
  distributionId: DISTRIBUTION,
  originId: 'api-gateway-origin',
  headerName: 'x-api-key',
};
const OLD_VALUE = 'EDGEoldVALUE0000000000000000000000000000';
const NEW_VALUE = 'EDGEnewVALUE1111111111111111111111111111';
const ETAG = 'E2QWRUHAPOMQZL';

function apiOrigin(headers: { HeaderName: string; HeaderValue: string }[] | undefined): Origin {
  return {
    Id: 'api-gateway-origin',
    DomainName: 'abc123.execute-api.eu-west-1.amazonaws.com',
    OriginPath: '/prod',
    ...(headers && { CustomHeaders: { Quantity: headers.length, Items: headers } }),
    CustomOriginConfig: {
      HTTPPort: 80,
      HTTPSPort: 443,
      OriginProtocolPolicy: 'https-only',
      OriginSslProtocols: { Quantity: 1, Items: ['TLSv1.2'] },
      OriginReadTimeout: 30,
      OriginKeepaliveTimeout: 5,
    },
    ConnectionAttempts: 3,
    ConnectionTimeout: 10,
  };
}

const siteOrigin: Origin = {
  Id: 'site-origin',
  DomainName: 'site.s3.eu-west-1.amazonaws.com',
  OriginPath: '',
  CustomHeaders: {
    Quantity: 2,
    Items: [
      { HeaderName: 'x-api-key', HeaderValue: 'SITEorigin-not-ours-000000000000' },
      { HeaderName: 'x-site-token', HeaderValue: 'site-token' },
    ],
  },
  S3OriginConfig: { OriginAccessIdentity: '' },
};

function distributionConfig(apiHeaders?: { HeaderName: string; HeaderValue: string }[]) {
  const config: DistributionConfig = {
    CallerReference: 'keyrot-test-2026',
    Aliases: { Quantity: 1, Items: ['api.example.com'] },
    DefaultRootObject: '',
    Origins: { Quantity: 2, Items: [siteOrigin, apiOrigin(apiHeaders)] },
    DefaultCacheBehavior: {
      TargetOriginId: 'api-gateway-origin',
      ViewerProtocolPolicy: 'redirect-to-https',
      CachePolicyId: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
    },
    Comment: 'kloudpepper api',
    PriceClass: 'PriceClass_100',
    Enabled: true,
    HttpVersion: 'http2',
  };
  return config;
}

function givenConfig(config: DistributionConfig, etag = ETAG) {
  cloudFront.on(GetDistributionConfigCommand).resolves({ ETag: etag, DistributionConfig: config });
  cloudFront.on(UpdateDistributionCommand).resolves({ ETag: 'ENEXT' });
}

function writtenConfig(): DistributionConfig {
  const call = cloudFront.commandCalls(UpdateDistributionCommand)[0];
  if (!call) throw new Error('UpdateDistribution was not called');
  return call.args[0].input.DistributionConfig!;
}

const noSuchDistribution = () =>
  new NoSuchDistribution({
    message: 'The specified distribution does not exist.',
    $metadata: { httpStatusCode: 404 },
  });

/** The API origin of the config UpdateDistribution was called with. */
function writtenApiOrigin(): Origin | undefined {
  return writtenConfig().Origins?.Items?.find((o) => o.Id === 'api-gateway-origin');
}

function newEdge() {
  return new CloudFrontEdgeConfig(
    new CloudFrontClient({
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    }),
  );
}

/** Reads the header, then writes NEW_VALUE with the ETag read. */
async function writeNewValue(): Promise<void> {
  const edge = newEdge();
  await edge.writeHeader(target, (await edge.readHeader(target)).etag, new SecretValue(NEW_VALUE));
}

/** GetDistribution answering `status`, the API origin sending NEW_VALUE. */
function givenDistribution(status: 'Deployed' | 'InProgress') {
  cloudFront.on(GetDistributionCommand).resolves({
    Distribution: {
      Id: DISTRIBUTION,
      ARN: `arn:aws:cloudfront::222222222222:distribution/${DISTRIBUTION}`,
      Status: status,
      LastModifiedTime: new Date('2026-11-25T09:00:00Z'),
      InProgressInvalidationBatches: 0,
      DomainName: 'd111111abcdef8.cloudfront.net',
      DistributionConfig: distributionConfig([{ HeaderName: 'x-api-key', HeaderValue: NEW_VALUE }]),
    },
  });
}

afterEach(() => {
  cloudFront.reset();
});

describe('CloudFrontEdgeConfig', () => {
  describe('readHeader', () => {
    it("returns the ETag and the fingerprint of the origin's header, never its value", async () => {
      givenConfig(distributionConfig([{ HeaderName: 'x-api-key', HeaderValue: OLD_VALUE }]));

      const header = await newEdge().readHeader(target);

      expect(header).toEqual({ etag: ETAG, fingerprint: fingerprintOf(OLD_VALUE) });
    });

    it('finds the header whatever the case of its name', async () => {
      givenConfig(distributionConfig([{ HeaderName: 'X-API-KEY', HeaderValue: OLD_VALUE }]));

      await expect(newEdge().readHeader(target)).resolves.toMatchObject({
        fingerprint: fingerprintOf(OLD_VALUE),
      });
    });

    it('returns a null fingerprint when the origin sends no such header', async () => {
      givenConfig(distributionConfig());

      await expect(newEdge().readHeader(target)).resolves.toEqual({
        etag: ETAG,
        fingerprint: null,
      });
    });

    it('names ORIGIN_ID when the origin is not on the distribution', async () => {
      givenConfig(distributionConfig());

      const error = await failureOf(
        newEdge().readHeader({ ...target, originId: 'no-such-origin' }),
      );

      expect(error).toBeInstanceOf(OriginNotFoundError);
      expect((error as OriginNotFoundError).field).toBe('ORIGIN_ID');
      expect((error as Error).message).toContain('no-such-origin');
    });

    it('names DISTRIBUTION_ID when the distribution does not exist', async () => {
      cloudFront.on(GetDistributionConfigCommand).rejects(noSuchDistribution());

      const error = await failureOf(newEdge().readHeader(target));

      expect(error).toBeInstanceOf(ResourceNotFoundError);
      expect((error as ResourceNotFoundError).field).toBe('DISTRIBUTION_ID');
    });

    it('reports CloudFront throttling as a retryable AwsCallError', async () => {
      cloudFront.on(GetDistributionConfigCommand).rejects(
        Object.assign(new Error('Rate exceeded'), {
          name: 'Throttling',
          $metadata: { httpStatusCode: 400 },
        }),
      );

      const error = await failureOf(newEdge().readHeader(target));

      expect(error).toBeInstanceOf(AwsCallError);
      expect((error as AwsCallError).retryable).toBe(true);
    });
  });

  describe('writeHeader', () => {
    it('replaces the header value and writes the config back with IfMatch = the ETag read', async () => {
      const config = distributionConfig([
        { HeaderName: 'x-origin-verify', HeaderValue: 'verify-me' },
        { HeaderName: 'x-api-key', HeaderValue: OLD_VALUE },
      ]);
      givenConfig(config);

      await writeNewValue();

      const input = cloudFront.commandCalls(UpdateDistributionCommand)[0]?.args[0].input;
      expect(input?.Id).toBe(DISTRIBUTION);
      expect(input?.IfMatch).toBe(ETAG);
      const expected = distributionConfig([
        { HeaderName: 'x-origin-verify', HeaderValue: 'verify-me' },
        { HeaderName: 'x-api-key', HeaderValue: NEW_VALUE },
      ]);
      expect(JSON.stringify(writtenConfig())).toBe(JSON.stringify(expected));
    });

    it('replaces a header whose name differs in case, without adding a second one', async () => {
      givenConfig(distributionConfig([{ HeaderName: 'X-Api-Key', HeaderValue: OLD_VALUE }]));

      await writeNewValue();

      expect(writtenApiOrigin()?.CustomHeaders).toEqual({
        Quantity: 1,
        Items: [{ HeaderName: 'X-Api-Key', HeaderValue: NEW_VALUE }],
      });
    });

    it('adds the header when the origin has no custom headers yet', async () => {
      givenConfig(distributionConfig());

      await writeNewValue();

      expect(writtenApiOrigin()?.CustomHeaders).toEqual({
        Quantity: 1,
        Items: [{ HeaderName: 'x-api-key', HeaderValue: NEW_VALUE }],
      });
    });

    it('adds the header next to the origin’s other headers', async () => {
      givenConfig(distributionConfig([{ HeaderName: 'x-origin-verify', HeaderValue: 'v' }]));

      await writeNewValue();

      expect(writtenApiOrigin()?.CustomHeaders).toEqual({
        Quantity: 2,
        Items: [
          { HeaderName: 'x-origin-verify', HeaderValue: 'v' },
          { HeaderName: 'x-api-key', HeaderValue: NEW_VALUE },
        ],
      });
    });

    it('leaves other origins, their headers and the rest of the config byte for byte', async () => {
      givenConfig(distributionConfig([{ HeaderName: 'x-api-key', HeaderValue: OLD_VALUE }]));

      await writeNewValue();

      const written = writtenConfig();
      const original = distributionConfig([{ HeaderName: 'x-api-key', HeaderValue: OLD_VALUE }]);
      const site = written.Origins?.Items?.find((o) => o.Id === 'site-origin');
      expect(JSON.stringify(site)).toBe(JSON.stringify(siteOrigin));
      expect(JSON.stringify(omit(written, 'Origins'))).toBe(
        JSON.stringify(omit(original, 'Origins')),
      );
      expect(written.Origins?.Quantity).toBe(2);
      expect(written.Origins?.Items?.map((o) => o.Id)).toEqual([
        'site-origin',
        'api-gateway-origin',
      ]);
    });

    it('turns PreconditionFailed into EdgeConfigChangedError', async () => {
      givenConfig(distributionConfig());
      cloudFront.on(UpdateDistributionCommand).rejects(
        new PreconditionFailed({
          message:
            'The precondition given in one or more of the request fields evaluated to false.',
          $metadata: { httpStatusCode: 412 },
        }),
      );
      const edge = newEdge();
      const { etag } = await edge.readHeader(target);

      const error = await failureOf(edge.writeHeader(target, etag, new SecretValue(NEW_VALUE)));

      expect(error).toBeInstanceOf(EdgeConfigChangedError);
      expect((error as EdgeConfigChangedError).retryable).toBe(true);
    });

    it('refuses to write with an ETag other than the one read, without calling CloudFront', async () => {
      givenConfig(distributionConfig());
      const edge = newEdge();
      await edge.readHeader(target);

      const error = await failureOf(edge.writeHeader(target, 'ESTALE', new SecretValue(NEW_VALUE)));

      expect(error).toBeInstanceOf(EdgeConfigChangedError);
      expect(cloudFront.commandCalls(UpdateDistributionCommand)).toHaveLength(0);
    });

    it('names DISTRIBUTION_ID when the distribution disappeared before the write', async () => {
      givenConfig(distributionConfig());
      cloudFront.on(UpdateDistributionCommand).rejects(noSuchDistribution());
      const edge = newEdge();
      const { etag } = await edge.readHeader(target);

      const error = await failureOf(edge.writeHeader(target, etag, new SecretValue(NEW_VALUE)));

      expect(error).toBeInstanceOf(ResourceNotFoundError);
      expect((error as ResourceNotFoundError).field).toBe('DISTRIBUTION_ID');
    });

    it('keeps the key value out of its errors', async () => {
      givenConfig(distributionConfig());
      cloudFront.on(UpdateDistributionCommand).rejects(
        Object.assign(new Error('InvalidArgument'), {
          name: 'InvalidArgument',
          $metadata: { httpStatusCode: 400 },
        }),
      );
      const edge = newEdge();
      const { etag } = await edge.readHeader(target);

      const error = await failureOf(edge.writeHeader(target, etag, new SecretValue(NEW_VALUE)));

      expect(error).toBeInstanceOf(AwsCallError);
      expect(JSON.stringify({ message: (error as Error).message })).not.toContain(NEW_VALUE);
    });
  });

  describe('deployment', () => {
    it('reports Deployed and the fingerprint of the header the distribution holds', async () => {
      givenDistribution('Deployed');

      await expect(newEdge().deployment(target)).resolves.toEqual({
        deployed: true,
        fingerprint: fingerprintOf(NEW_VALUE),
      });
    });

    it('reports InProgress as not deployed', async () => {
      givenDistribution('InProgress');

      await expect(newEdge().deployment(target)).resolves.toMatchObject({ deployed: false });
    });

    it('names DISTRIBUTION_ID when the distribution does not exist', async () => {
      cloudFront.on(GetDistributionCommand).rejects(noSuchDistribution());

      const error = await failureOf(newEdge().deployment(target));

      expect((error as ResourceNotFoundError).field).toBe('DISTRIBUTION_ID');
    });
  });
});
