import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { KMSClient } from '@aws-sdk/client-kms';
import { SQSClient } from '@aws-sdk/client-sqs';
import { STSClient } from '@aws-sdk/client-sts';
import { DynamoDbLedgerQueries, systemClock, type Clock, type LedgerQueries } from '@keyrot/shared';
import { checkEndpoint, clientConfig, CLOUDFRONT_REGION, type AwsTarget } from './aws';
import { parseOutputFormat, type OutputFormat } from './output';
import { targetsFilePath } from './targets';

export const DEFAULT_TABLE = 'keyrot-ledger';
export const DEFAULT_BUS = 'keyrot';

/** The global options, as commander hands them over. */
export interface GlobalOptions {
  readonly endpoint?: string;
  readonly region?: string;
  readonly profile?: string;
  readonly edgeProfile?: string;
  readonly edgeEndpoint?: string;
  readonly table?: string;
  readonly bus?: string;
  readonly targets?: string;
  readonly output: string;
}

/** Where the CLI writes: results to stdout, progress and errors to stderr. */
export interface Streams {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/**
 * What a command runs with: the options resolved (environment defaults applied, values
 * checked) and the AWS clients, built on first use.
 */
export class CliContext {
  readonly api: AwsTarget;
  readonly edge: AwsTarget;
  readonly table: string;
  readonly bus: string;
  readonly output: OutputFormat;
  readonly targetsFile: string | undefined;
  /** Whose credentials the edge reads use: `--edge-profile`'s, or the API account's. */
  readonly edgeCredentials: 'edge-profile' | 'api';
  private built = new Map<string, unknown>();

  constructor(
    options: GlobalOptions,
    readonly streams: Streams,
    readonly clock: Clock = systemClock,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    const endpoint = checkEndpoint('--endpoint', options.endpoint ?? env.AWS_ENDPOINT_URL);
    const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    this.api = {
      ...(endpoint && { endpoint }),
      ...(region && { region }),
      ...(options.profile && { profile: options.profile }),
    };
    const edgeEndpoint = checkEndpoint('--edge-endpoint', options.edgeEndpoint) ?? endpoint;
    const edgeProfile = options.edgeProfile ?? options.profile;
    this.edgeCredentials = options.edgeProfile ? 'edge-profile' : 'api';
    this.edge = {
      ...(edgeEndpoint && { endpoint: edgeEndpoint }),
      region: CLOUDFRONT_REGION,
      ...(edgeProfile && { profile: edgeProfile }),
    };
    this.table = options.table ?? env.KEYROT_LEDGER_TABLE ?? DEFAULT_TABLE;
    this.bus = options.bus ?? env.KEYROT_EVENT_BUS ?? DEFAULT_BUS;
    this.output = parseOutputFormat(options.output);
    this.targetsFile = targetsFilePath(options.targets);
  }

  get ledger(): LedgerQueries {
    return this.once('ledger', () => new DynamoDbLedgerQueries(this.dynamo, this.table));
  }

  get dynamo(): DynamoDBClient {
    return this.once('dynamo', () => new DynamoDBClient(clientConfig(this.api)));
  }

  get events(): EventBridgeClient {
    return this.once('events', () => new EventBridgeClient(clientConfig(this.api)));
  }

  get apiGateway(): APIGatewayClient {
    return this.once('apigateway', () => new APIGatewayClient(clientConfig(this.api)));
  }

  get sts(): STSClient {
    return this.once('sts', () => new STSClient(clientConfig(this.api)));
  }

  /** STS with the edge account's credentials (`--edge-profile`): whose they are. */
  get edgeSts(): STSClient {
    return this.once('edge-sts', () => new STSClient(clientConfig(this.edge)));
  }

  /** One account's SQS (dead-letter queues), in the API account's region. */
  sqs(side: 'api' | 'edge'): SQSClient {
    return this.once(`sqs-${side}`, () => new SQSClient(this.regional(side)));
  }

  /** One account's EventBridge, in the API account's region. */
  eventsOf(side: 'api' | 'edge'): EventBridgeClient {
    if (side === 'api') return this.events;
    return this.once('edge-events', () => new EventBridgeClient(this.regional('edge')));
  }

  /** One account's KMS, in the API account's region. */
  kms(side: 'api' | 'edge'): KMSClient {
    return this.once(`kms-${side}`, () => new KMSClient(this.regional(side)));
  }

  /** One account's IAM (global; the SDK signs for us-east-1 whatever the region). */
  iam(side: 'api' | 'edge'): IAMClient {
    return this.once(`iam-${side}`, () => new IAMClient(this.regional(side)));
  }

  /** STS as one account. */
  stsOf(side: 'api' | 'edge'): STSClient {
    return side === 'api' ? this.sts : this.edgeSts;
  }

  /**
   * Client configuration for a regional service of one account: the stacks live in the API
   * account's region (the edge's own `region` is CloudFront's us-east-1).
   */
  regional(side: 'api' | 'edge') {
    return clientConfig(side === 'api' ? this.api : this.edge, this.api.region);
  }

  /** CloudFront in the edge account (`--edge-profile`, `--edge-endpoint`). */
  get cloudFront(): CloudFrontClient {
    return this.once('cloudfront', () => new CloudFrontClient(clientConfig(this.edge)));
  }

  /** Writes a result to stdout. */
  print(text: string): void {
    this.streams.out(text);
  }

  /** Progress and notes: stdout for tables, stderr when stdout carries JSON or CSV. */
  note(line: string): void {
    (this.output === 'table' ? this.streams.out : this.streams.err)(`${line}\n`);
  }

  /** Closes every client built (sockets would keep the process alive). */
  close(): void {
    for (const client of this.built.values()) {
      (client as { destroy?: () => void }).destroy?.();
    }
  }

  private once<T>(name: string, build: () => T): T {
    if (!this.built.has(name)) this.built.set(name, build());
    return this.built.get(name) as T;
  }
}
