/**
 * Provisions the local two-account world in moto with plain SDK calls. Test infrastructure only.
 *
 * The target (what a keyrot user already has, `provisionTarget`): in the API account a REST
 * API + stage + usage plan + two keys, in the edge account the CloudFront distribution with two
 * origins. The in-process world adds keyrot's own resources the same way: API account: the
 * ledger table, the `keyrot` bus with a tap queue, the monthly schedule; edge account: KMS key,
 * its own `keyrot` bus with a tap queue. In single-account mode both sides share one account,
 * one bus and one tap. (harness/deployed/deploy.ts instead deploys keyrot's stacks onto the
 * target with `serverless deploy`.)
 */
import {
  APIGatewayClient,
  CreateApiKeyCommand,
  CreateDeploymentCommand,
  CreateResourceCommand,
  CreateRestApiCommand,
  CreateUsagePlanCommand,
  CreateUsagePlanKeyCommand,
  GetResourcesCommand,
  PutIntegrationCommand,
  PutIntegrationResponseCommand,
  PutMethodCommand,
  PutMethodResponseCommand,
} from '@aws-sdk/client-api-gateway';
import {
  CloudFrontClient,
  CreateDistributionCommand,
  type DefaultCacheBehavior,
  type Origin,
} from '@aws-sdk/client-cloudfront';
import {
  CreateTableCommand,
  DynamoDBClient,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import {
  CreateEventBusCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  CreateScheduleCommand,
  CreateScheduleGroupCommand,
  GetScheduleCommand,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { currentKeySecretName, ledgerTableDefinition, SecretValue } from '@keyrot/shared';
import { clientConfig, openAccountSession, type AccountSession } from './accounts';

export const API_ACCOUNT_ID = '111111111111';
export const EDGE_ACCOUNT_ID = '222222222222';
export const REGION = 'us-east-1';

export const REST_API_NAME = 'keyrot-demo-api';
export const RESOURCE_PATH_PART = 'hello';
export const STAGE_NAME = 'prod';
export const USAGE_PLAN_NAME = 'keyrot-demo-plan';
/** The key the seed's Terraform created: untagged, so not (yet) keyrot-owned. */
export const INITIAL_KEY_NAME = 'kloudpepper-api-key';
export const OTHER_CLIENT_KEY_NAME = 'partner-client-key';
export const OTHER_CLIENT_KEY_TAGS = { owner: 'partner' } as const;
export const DEFAULT_LEDGER_TABLE_NAME = 'keyrot-ledger';
export const DEFAULT_BUS_NAME = 'keyrot';
export const EVENT_SOURCE = 'keyrot';
export const TAP_QUEUE_NAME = 'keyrot-tap';
export const TAP_RULE_NAME = 'keyrot-tap';
export const TAP_EVENT_PATTERN = JSON.stringify({ source: [EVENT_SOURCE] });

export const ORIGIN_ID = 'api-gateway-origin';
export const API_KEY_HEADER_NAME = 'x-api-key';
export const OTHER_HEADER_NAME = 'x-origin-verify';
export const OTHER_HEADER_VALUE = 'edge-static-marker';
export const STATIC_ORIGIN_ID = 'static-assets-origin';
export const STATIC_ORIGIN_DOMAIN = 'assets.example.com';
export const STATIC_ORIGIN_HEADER_NAME = 'x-assets-origin';
export const STATIC_ORIGIN_HEADER_VALUE = 'assets-static-marker';
export const STATIC_PATH_PATTERN = '/assets/*';
export const EDGE_KMS_ALIAS = 'alias/keyrot-edge';
/** The edge-updater's one-time deployment re-checks (as serverless.yml's group, stage `local`). */
export const DEPLOY_CHECK_GROUP_NAME = 'keyrot-deploy-checks-local';
export const DEPLOY_CHECK_ROLE_NAME = 'keyrot-deploy-check-local';
/** keyrot's stage in the in-process world: its current-key secrets are `keyrot/local/…`. */
export const LOCAL_KEYROT_STAGE = 'local';
/** AWS managed cache policy "CachingDisabled". */
const CACHING_DISABLED_POLICY_ID = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';

export const SCHEDULE_NAME = 'keyrot-monthly-rotation';
export const SCHEDULE_GROUP_NAME = 'default';
export const SCHEDULE_EXPRESSION = 'cron(0 0 1 * ? *)';
export const ROTATION_REQUESTED_DETAIL_TYPE = 'KeyRotationRequested';

/** The target's API side: what the seed's Terraform created in the API account. */
export interface TargetApiResources {
  restApiId: string;
  stageName: string;
  invokeUrl: string;
  usagePlanId: string;
  initialKeyId: string;
  otherClientKeyId: string;
}

/** The target's edge side: the distribution whose origin sends the first key. */
export interface TargetEdgeResources {
  distributionId: string;
  originId: 'api-gateway-origin';
  otherHeaderName: string;
}

/** The provisioned target (see `provisionTarget`). */
export interface ProvisionedTarget {
  /** `initialKeyValue` is non-enumerable (see `provisionTargetApi`). */
  readonly api: TargetApiResources & { readonly initialKeyValue: string };
  readonly edge: TargetEdgeResources;
}

export interface ApiAccountResources extends TargetApiResources {
  ledgerTableName: string;
  busName: string;
  busArn: string;
  tapQueueUrl: string;
  /** Name and group the schedule has (or will have, see `provisionScheduledRotation`). */
  scheduleName: string;
  scheduleGroupName: string;
}

export interface EdgeAccountResources extends TargetEdgeResources {
  busName: string;
  busArn: string;
  kmsKeyArn: string;
  tapQueueUrl: string;
  /** Scheduler group, role and target bus of the edge-updater's deployment re-checks. */
  deployCheckGroupName: string;
  deployCheckRoleArn: string;
  /** keyrot's stage: names the current-key secrets (`keyrot/<stage>/<target>/current-key`). */
  keyrotStage: string;
}

/** A custom bus plus its tap (an SQS queue receiving every `source: keyrot` event on it). */
export interface BusWithTap {
  busName: string;
  busArn: string;
  tapQueueUrl: string;
}

/** The schedule's input: the seed's flat form (`API_KEY_NAME`, `DISTRIBUTION_ID`, ...). */
export type ScheduleInput = Readonly<Record<string, string>>;

export interface ProvisionApiAccountOptions {
  /** The ledger table definition, e.g. `ledgerTableDefinition('keyrot-ledger')`. */
  readonly ledgerTable: CreateTableCommandInput;
  readonly busName?: string;
  /**
   * When given, the schedule is created right away with this input. Usually omitted: the input
   * names the distribution, which exists only after the edge account; `provisionTwoAccounts`
   * then calls `provisionScheduledRotation` itself.
   */
  readonly scheduleInput?: ScheduleInput;
}

export interface ProvisionEdgeAccountOptions {
  /** Value of the API account's initial key, sent by CloudFront in `x-api-key`. */
  readonly initialKeyValue: string;
  /** `<restApiId>.execute-api.<region>.amazonaws.com` (see `executeApiDomainName`). */
  readonly apiDomainName: string;
  readonly busName?: string;
  /** Single-account mode: reuse this bus and tap instead of creating the edge's own. */
  readonly sharedBus?: BusWithTap;
}

export interface ScheduledRotationOptions {
  readonly scheduleInput: ScheduleInput;
  /** ARN of the API account's bus (the schedule's target). */
  readonly busArn: string;
  /** Default `arn:aws:iam::<account>:role/keyrot-scheduler`. */
  readonly roleArn?: string;
  readonly name?: string;
  readonly groupName?: string;
}

export interface ScheduledRotation {
  readonly input: string;
  readonly detailType: string;
  readonly source: string;
  readonly busArn: string;
}

/** The provisioned local world returned by `provisionTwoAccounts`. */
export interface LocalWorld {
  readonly singleAccount: boolean;
  readonly api: ApiAccountResources & { readonly session: AccountSession };
  readonly edge: EdgeAccountResources & { readonly session: AccountSession };
  /** The initial key's value, wrapped so that printing or serialising the world never leaks it. */
  readonly initialKeyValue: SecretValue;
  /** The schedule's input as provisioned (the seed's flat form). */
  readonly scheduleInput: ScheduleInput;
}

/** Any SDK v3 client: only `destroy()` matters here. */
interface Destroyable {
  destroy(): void;
}

/**
 * Opens both sessions and provisions API account, edge account (with the initial key value) and
 * the monthly schedule (input filled from both). `singleAccount`: both sides in 111111111111,
 * one bus, one tap.
 */
export async function provisionTwoAccounts(
  endpoint: string,
  options: { readonly singleAccount?: boolean } = {},
): Promise<LocalWorld> {
  const singleAccount = options.singleAccount ?? false;
  const apiSession = await openAccountSession(endpoint, API_ACCOUNT_ID, REGION);
  const edgeSession = singleAccount
    ? apiSession
    : await openAccountSession(endpoint, EDGE_ACCOUNT_ID, REGION);

  const api = await provisionApiAccount(apiSession, {
    ledgerTable: ledgerTableDefinition(DEFAULT_LEDGER_TABLE_NAME),
  });
  const edge = await provisionEdgeAccount(edgeSession, {
    initialKeyValue: api.initialKeyValue,
    apiDomainName: executeApiDomainName(api.restApiId, apiSession.region),
    ...(singleAccount ? { sharedBus: api } : {}),
  });
  const scheduleInput = seedScheduleInput(api, edge);
  await provisionScheduledRotation(apiSession, { scheduleInput, busArn: api.busArn });

  return {
    singleAccount,
    api: { session: apiSession, ...api },
    edge: { session: edgeSession, ...edge },
    initialKeyValue: new SecretValue(api.initialKeyValue),
    scheduleInput,
  };
}

/** `<restApiId>.execute-api.<region>.amazonaws.com`: the origin domain CloudFront calls. */
export function executeApiDomainName(restApiId: string, region: string = REGION): string {
  return `${restApiId}.execute-api.${region}.amazonaws.com`;
}

/** The seed's flat schedule input for the provisioned target. */
export function seedScheduleInput(
  api: Pick<ApiAccountResources, 'usagePlanId'>,
  edge: Pick<EdgeAccountResources, 'distributionId' | 'originId'>,
): ScheduleInput {
  return {
    API_KEY_NAME: INITIAL_KEY_NAME,
    DISTRIBUTION_ID: edge.distributionId,
    ORIGIN_ID: edge.originId,
    USAGE_PLAN_ID: api.usagePlanId,
  };
}

/**
 * Provisions the API account. The returned `initialKeyValue` is a non-enumerable property:
 * `JSON.stringify`, `console.log` and object spread leave it out; read it explicitly.
 */
export async function provisionApiAccount(
  session: AccountSession,
  options: ProvisionApiAccountOptions,
): Promise<ApiAccountResources & { initialKeyValue: string }> {
  const busName = options.busName ?? DEFAULT_BUS_NAME;
  const [target, ledgerTableName, bus] = await Promise.all([
    provisionTargetApi(session),
    createLedgerTable(session, options.ledgerTable),
    provisionBusWithTap(session, busName),
  ]);
  if (options.scheduleInput) {
    await provisionScheduledRotation(session, {
      scheduleInput: options.scheduleInput,
      busArn: bus.busArn,
    });
  }
  const resources: ApiAccountResources = {
    ...target,
    ledgerTableName,
    ...bus,
    scheduleName: SCHEDULE_NAME,
    scheduleGroupName: SCHEDULE_GROUP_NAME,
  };
  return withHiddenKeyValue(resources, target.initialKeyValue);
}

/** Provisions the edge account: KMS key, distribution, and (unless shared) its bus and tap. */
export async function provisionEdgeAccount(
  session: AccountSession,
  options: ProvisionEdgeAccountOptions,
): Promise<EdgeAccountResources> {
  const [kmsKeyArn, target, bus] = await Promise.all([
    createEdgeKmsKey(session),
    provisionTargetEdge(session, options),
    options.sharedBus ?? provisionBusWithTap(session, options.busName ?? DEFAULT_BUS_NAME),
    withClient(new SchedulerClient(clientConfig(session)), (scheduler) =>
      scheduler.send(new CreateScheduleGroupCommand({ Name: DEPLOY_CHECK_GROUP_NAME })),
    ),
  ]);
  // As the edge stack creates it for each target of keyrot.targets.yml: empty, under keyrot's key.
  await provisionCurrentKeySecret(session, kmsKeyArn, INITIAL_KEY_NAME);
  return {
    ...target,
    busName: bus.busName,
    busArn: bus.busArn,
    kmsKeyArn,
    keyrotStage: LOCAL_KEYROT_STAGE,
    tapQueueUrl: bus.tapQueueUrl,
    deployCheckGroupName: DEPLOY_CHECK_GROUP_NAME,
    // moto does not evaluate IAM; on AWS this role lets Scheduler put on the edge bus only.
    deployCheckRoleArn: `arn:aws:iam::${session.accountId}:role/${DEPLOY_CHECK_ROLE_NAME}`,
  };
}

/**
 * Provisions only the target keyrot rotates, as a user has it before installing keyrot: in the
 * API account the REST API, stage, usage plan, the first key `kloudpepper-api-key` (untagged)
 * and the partner's key; in the edge account the distribution whose origin
 * `api-gateway-origin` sends the first key in `x-api-key`. The key value stays a
 * non-enumerable property of `api` (read it explicitly; printing the result leaves it out).
 */
export async function provisionTarget(
  apiSession: AccountSession,
  edgeSession: AccountSession,
  options: TargetApiOptions = {},
): Promise<ProvisionedTarget> {
  const api = await provisionTargetApi(apiSession, options);
  const edge = await provisionTargetEdge(edgeSession, {
    initialKeyValue: api.initialKeyValue,
    apiDomainName: executeApiDomainName(api.restApiId, apiSession.region),
  });
  return { api, edge };
}

/**
 * The target's API side: REST API with GET /hello, stage, usage plan and both keys. The first
 * key's value is a non-enumerable property of the result.
 */
export async function provisionTargetApi(
  session: AccountSession,
  options: TargetApiOptions = {},
): Promise<TargetApiResources & { initialKeyValue: string }> {
  const gateway = await provisionGateway(session, options);
  const resources: TargetApiResources = {
    restApiId: gateway.restApiId,
    stageName: STAGE_NAME,
    invokeUrl: `https://${executeApiDomainName(gateway.restApiId, session.region)}/${STAGE_NAME}`,
    usagePlanId: gateway.usagePlanId,
    initialKeyId: gateway.initialKeyId,
    otherClientKeyId: gateway.otherClientKeyId,
  };
  return withHiddenKeyValue(resources, gateway.initialKeyValue);
}

/** The target's edge side: the distribution (API origin sending the key, plus a static origin). */
export async function provisionTargetEdge(
  session: AccountSession,
  options: Pick<ProvisionEdgeAccountOptions, 'initialKeyValue' | 'apiDomainName'>,
): Promise<TargetEdgeResources> {
  const distributionId = await provisionDistribution(session, [
    {
      originId: ORIGIN_ID,
      apiDomainName: options.apiDomainName,
      keyValue: options.initialKeyValue,
    },
  ]);
  return { distributionId, originId: ORIGIN_ID, otherHeaderName: OTHER_HEADER_NAME };
}

/** One API origin of a distribution: it sends `keyValue` in `x-api-key` to the API's stage. */
export interface ApiOriginSpec {
  readonly originId: string;
  /** `<restApiId>.execute-api.<region>.amazonaws.com` (see `executeApiDomainName`). */
  readonly apiDomainName: string;
  readonly keyValue: string;
}

/**
 * Creates a distribution with one or more API origins (each sending its own key in
 * `x-api-key`, plus `x-origin-verify`) and the static origin on /assets/*: the first API
 * origin serves the default behaviour, each further one `/<originId>/*` (e.g. a second API on
 * the same distribution, as a fleet's targets may share one). Returns the distribution id.
 */
export async function provisionDistribution(
  session: AccountSession,
  apiOrigins: readonly ApiOriginSpec[],
): Promise<string> {
  const [first, ...more] = apiOrigins;
  if (!first) throw new Error('provisionDistribution: at least one API origin');
  const origins = apiOrigins.map((o) =>
    customOrigin(o.originId, o.apiDomainName, `/${STAGE_NAME}`, [
      [API_KEY_HEADER_NAME, o.keyValue],
      [OTHER_HEADER_NAME, OTHER_HEADER_VALUE],
    ]),
  );
  const staticOrigin = customOrigin(STATIC_ORIGIN_ID, STATIC_ORIGIN_DOMAIN, '', [
    [STATIC_ORIGIN_HEADER_NAME, STATIC_ORIGIN_HEADER_VALUE],
  ]);
  const behaviors = [
    { PathPattern: STATIC_PATH_PATTERN, ...cacheBehavior(STATIC_ORIGIN_ID) },
    ...more.map((o) => ({ PathPattern: `/${o.originId}/*`, ...cacheBehavior(o.originId) })),
  ];
  const created = await withClient(new CloudFrontClient(clientConfig(session)), (cloudfront) =>
    cloudfront.send(
      new CreateDistributionCommand({
        DistributionConfig: {
          CallerReference: `keyrot-local-${Date.now()}-${first.originId}`,
          Comment: 'keyrot local demo distribution',
          Enabled: true,
          Origins: { Quantity: origins.length + 1, Items: [...origins, staticOrigin] },
          DefaultCacheBehavior: cacheBehavior(first.originId),
          CacheBehaviors: { Quantity: behaviors.length, Items: behaviors },
        },
      }),
    ),
  );
  return required(created.Distribution?.Id, 'CreateDistribution Id');
}

/**
 * Creates the monthly EventBridge Scheduler schedule that puts `KeyRotationRequested` (source
 * `keyrot`) with the given input on the API bus. moto stores it but never runs it.
 */
export async function provisionScheduledRotation(
  session: AccountSession,
  options: ScheduledRotationOptions,
): Promise<{ scheduleName: string; groupName: string }> {
  const scheduleName = options.name ?? SCHEDULE_NAME;
  const groupName = options.groupName ?? SCHEDULE_GROUP_NAME;
  await withClient(new SchedulerClient(clientConfig(session)), (scheduler) =>
    scheduler.send(
      new CreateScheduleCommand({
        Name: scheduleName,
        GroupName: groupName,
        ScheduleExpression: SCHEDULE_EXPRESSION,
        FlexibleTimeWindow: { Mode: 'OFF' },
        State: 'ENABLED',
        Target: {
          Arn: options.busArn,
          RoleArn: options.roleArn ?? `arn:aws:iam::${session.accountId}:role/keyrot-scheduler`,
          Input: JSON.stringify(options.scheduleInput),
          EventBridgeParameters: {
            DetailType: ROTATION_REQUESTED_DETAIL_TYPE,
            Source: EVENT_SOURCE,
          },
        },
      }),
    ),
  );
  return { scheduleName, groupName };
}

/** Reads a schedule back (GetSchedule): what Scheduler would put on the bus. */
export async function readScheduledRotation(
  session: AccountSession,
  name: string = SCHEDULE_NAME,
  group: string = SCHEDULE_GROUP_NAME,
): Promise<ScheduledRotation> {
  const schedule = await withClient(new SchedulerClient(clientConfig(session)), (scheduler) =>
    scheduler.send(new GetScheduleCommand({ Name: name, GroupName: group })),
  );
  const target = schedule.Target;
  const parameters = target?.EventBridgeParameters;
  return {
    input: required(target?.Input, `schedule ${group}/${name} Target.Input`),
    detailType: required(parameters?.DetailType, `schedule ${group}/${name} DetailType`),
    source: required(parameters?.Source, `schedule ${group}/${name} Source`),
    busArn: required(target?.Arn, `schedule ${group}/${name} Target.Arn`),
  };
}

/** What `provisionGateway` creates in API Gateway. */
interface GatewayResources {
  restApiId: string;
  usagePlanId: string;
  initialKeyId: string;
  initialKeyValue: string;
  otherClientKeyId: string;
}

export interface TargetApiOptions {
  /**
   * Tags of the first key. `{ 'keyrot:managed': 'true' }` is the key as `keyrot adopt` leaves
   * it: the reaper's role deletes only keys tagged so. moto cannot tag after creation, so the
   * tag is set at creation. Default: untagged, as a user's first key is.
   */
  readonly initialKeyTags?: Readonly<Record<string, string>>;
  /** Name of the first key (default `kloudpepper-api-key`, the seed's). */
  readonly initialKeyName?: string;
}

/** REST API with GET /hello (API key required, MOCK), stage, usage plan and both keys. */
async function provisionGateway(
  session: AccountSession,
  options: TargetApiOptions = {},
): Promise<GatewayResources> {
  return withClient(new APIGatewayClient(clientConfig(session)), async (apigw) => {
    const restApiId = await createHelloApi(apigw);
    await apigw.send(new CreateDeploymentCommand({ restApiId, stageName: STAGE_NAME }));
    const plan = await apigw.send(
      new CreateUsagePlanCommand({
        name: USAGE_PLAN_NAME,
        apiStages: [{ apiId: restApiId, stage: STAGE_NAME }],
      }),
    );
    const usagePlanId = required(plan.id, 'CreateUsagePlan id');
    const [initial, other] = await Promise.all([
      apigw.send(
        new CreateApiKeyCommand({
          name: options.initialKeyName ?? INITIAL_KEY_NAME,
          enabled: true,
          ...(options.initialKeyTags && { tags: { ...options.initialKeyTags } }),
        }),
      ),
      apigw.send(
        new CreateApiKeyCommand({
          name: OTHER_CLIENT_KEY_NAME,
          enabled: true,
          tags: { ...OTHER_CLIENT_KEY_TAGS },
        }),
      ),
    ]);
    const initialKeyId = required(initial.id, 'CreateApiKey id');
    const otherClientKeyId = required(other.id, 'CreateApiKey id');
    await Promise.all(
      [initialKeyId, otherClientKeyId].map((keyId) =>
        apigw.send(new CreateUsagePlanKeyCommand({ usagePlanId, keyId, keyType: 'API_KEY' })),
      ),
    );
    const initialKeyValue = required(initial.value, 'CreateApiKey value');
    return { restApiId, usagePlanId, initialKeyId, initialKeyValue, otherClientKeyId };
  });
}

/** Creates `keyrot-demo-api` with `GET /hello` (apiKeyRequired, MOCK integration answering 200). */
async function createHelloApi(apigw: APIGatewayClient): Promise<string> {
  const api = await apigw.send(new CreateRestApiCommand({ name: REST_API_NAME }));
  const restApiId = required(api.id, 'CreateRestApi id');
  const { items } = await apigw.send(new GetResourcesCommand({ restApiId }));
  const rootId = required(items?.find((r) => r.path === '/')?.id, 'root resource id');
  const hello = await apigw.send(
    new CreateResourceCommand({ restApiId, parentId: rootId, pathPart: RESOURCE_PATH_PART }),
  );
  const method = {
    restApiId,
    resourceId: required(hello.id, 'CreateResource id'),
    httpMethod: 'GET',
  };
  await apigw.send(
    new PutMethodCommand({ ...method, authorizationType: 'NONE', apiKeyRequired: true }),
  );
  await apigw.send(
    new PutIntegrationCommand({
      ...method,
      type: 'MOCK',
      requestTemplates: { 'application/json': '{"statusCode": 200}' },
    }),
  );
  await apigw.send(new PutMethodResponseCommand({ ...method, statusCode: '200' }));
  await apigw.send(
    new PutIntegrationResponseCommand({
      ...method,
      statusCode: '200',
      responseTemplates: { 'application/json': '{"message": "hello"}' },
    }),
  );
  return restApiId;
}

/** Creates the ledger table (moto makes it ACTIVE at once); returns its name. */
async function createLedgerTable(
  session: AccountSession,
  definition: CreateTableCommandInput,
): Promise<string> {
  const table = await withClient(new DynamoDBClient(clientConfig(session)), (dynamodb) =>
    dynamodb.send(new CreateTableCommand(definition)),
  );
  return required(table.TableDescription?.TableName, 'CreateTable TableName');
}

/** Creates a custom bus and its tap: queue `keyrot-tap` behind rule `keyrot-tap` (source keyrot). */
async function provisionBusWithTap(session: AccountSession, busName: string): Promise<BusWithTap> {
  const [busArn, queue] = await Promise.all([
    withClient(new EventBridgeClient(clientConfig(session)), async (events) => {
      const bus = await events.send(new CreateEventBusCommand({ Name: busName }));
      return required(bus.EventBusArn, 'CreateEventBus EventBusArn');
    }),
    createTapQueue(session),
  ]);
  await withClient(new EventBridgeClient(clientConfig(session)), async (events) => {
    await events.send(
      new PutRuleCommand({
        Name: TAP_RULE_NAME,
        EventBusName: busName,
        EventPattern: TAP_EVENT_PATTERN,
        State: 'ENABLED',
      }),
    );
    await events.send(
      new PutTargetsCommand({
        Rule: TAP_RULE_NAME,
        EventBusName: busName,
        Targets: [
          {
            Id: 'tap-queue',
            Arn: queue.queueArn,
            // The whole event as EventBridge received it. moto's default SQS body leaves out
            // `account`; this reserved variable keeps it (AWS gives the same full event).
            // One input path, unused: without any, moto evaluates eight default JSONPaths per
            // event (~40 ms each), which made every PutEvents take a third of a second.
            InputTransformer: {
              InputTemplate: '<aws.events.event.json>',
              InputPathsMap: { account: '$.account' },
            },
          },
        ],
      }),
    );
  });
  return { busName, busArn, tapQueueUrl: queue.queueUrl };
}

/** Creates the tap queue; returns its URL and ARN. */
async function createTapQueue(
  session: AccountSession,
): Promise<{ queueUrl: string; queueArn: string }> {
  return withClient(new SQSClient(clientConfig(session)), async (sqs) => {
    const created = await sqs.send(new CreateQueueCommand({ QueueName: TAP_QUEUE_NAME }));
    const queueUrl = required(created.QueueUrl, 'CreateQueue QueueUrl');
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
    );
    return { queueUrl, queueArn: required(Attributes?.QueueArn, 'tap QueueArn') };
  });
}

/** Creates the edge's symmetric KMS key and alias `alias/keyrot-edge`; returns the key ARN. */
async function createEdgeKmsKey(session: AccountSession): Promise<string> {
  return withClient(new KMSClient(clientConfig(session)), async (kms) => {
    const { KeyMetadata } = await kms.send(
      new CreateKeyCommand({
        Description: 'keyrot: wraps API key values sent from the API account to the edge',
        KeySpec: 'SYMMETRIC_DEFAULT',
        KeyUsage: 'ENCRYPT_DECRYPT',
      }),
    );
    const keyId = required(KeyMetadata?.KeyId, 'CreateKey KeyId');
    await kms.send(new CreateAliasCommand({ AliasName: EDGE_KMS_ALIAS, TargetKeyId: keyId }));
    return required(KeyMetadata?.Arn, 'CreateKey Arn');
  });
}

/**
 * A target's current-key secret, as the edge stack creates it (services/manifest/stacks.ts):
 * no value yet, encrypted with keyrot's edge KMS key. The edge-updater sets it per rotation.
 */
export async function provisionCurrentKeySecret(
  session: AccountSession,
  kmsKeyArn: string,
  targetName: string,
  stage: string = LOCAL_KEYROT_STAGE,
): Promise<string> {
  return withClient(new SecretsManagerClient(clientConfig(session)), async (secrets) => {
    const { ARN } = await secrets.send(
      new CreateSecretCommand({
        Name: currentKeySecretName(stage, targetName),
        KmsKeyId: kmsKeyArn,
        Description: `keyrot: the key ${targetName}'s distribution should send`,
      }),
    );
    return required(ARN, 'CreateSecret ARN');
  });
}

/** A custom (HTTPS-only) origin with the given custom headers. */
function customOrigin(
  id: string,
  domainName: string,
  originPath: string,
  headers: ReadonlyArray<readonly [string, string]>,
): Origin {
  return {
    Id: id,
    DomainName: domainName,
    OriginPath: originPath,
    CustomHeaders: {
      Quantity: headers.length,
      Items: headers.map(([HeaderName, HeaderValue]) => ({ HeaderName, HeaderValue })),
    },
    CustomOriginConfig: {
      HTTPPort: 80,
      HTTPSPort: 443,
      OriginProtocolPolicy: 'https-only',
      OriginSslProtocols: { Quantity: 1, Items: ['TLSv1.2'] },
    },
  };
}

/** An HTTPS-only, uncached behaviour targeting `originId`. */
function cacheBehavior(originId: string): DefaultCacheBehavior {
  return {
    TargetOriginId: originId,
    ViewerProtocolPolicy: 'https-only',
    CachePolicyId: CACHING_DISABLED_POLICY_ID,
  };
}

/** Returns `resources` with `initialKeyValue` attached as a non-enumerable property. */
function withHiddenKeyValue<T extends object>(
  resources: T,
  initialKeyValue: string,
): T & { initialKeyValue: string } {
  // Object.defineProperty cannot express the added property in its return type.
  return Object.defineProperty(resources, 'initialKeyValue', {
    value: initialKeyValue,
    enumerable: false,
  }) as T & { initialKeyValue: string };
}

/** Runs `use` with a client and destroys the client afterwards. */
async function withClient<C extends Destroyable, R>(client: C, use: (client: C) => Promise<R>) {
  try {
    return await use(client);
  } finally {
    client.destroy();
  }
}

/** Returns `value`, or throws naming what was missing in a moto response. */
function required<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) {
    throw new Error(`moto response is missing ${what}`);
  }
  return value;
}
