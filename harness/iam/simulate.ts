/**
 * Evaluates the IAM requests of `describe-call.ts` with a real policy evaluator
 * (`@cloud-copilot/iam-simulate`): the principal's identity policies (inline and managed,
 * and its permissions boundary), the resource's policy when it has one, cross-account rules
 * as AWS applies them (another account's resource needs both the identity policy and the
 * resource policy), and role trust policies. Where the evaluator's input handling departs
 * from AWS, {@link AWS_DIFFERENCES} says how and this module compensates.
 */
import {
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  paginateListAttachedRolePolicies,
  paginateListRolePolicies,
  type IAMClient,
} from '@aws-sdk/client-iam';
import {
  getDenialReasons,
  getGrantReasons,
  runSimulation,
  type ConditionExplain,
  type RequestAnalysis,
  type RunSimulationResults,
  type Simulation,
  type StatementExplain,
} from '@cloud-copilot/iam-simulate';
import type { ContextValue, DescribedCall, IamRequest } from './describe-call';

// ---------------------------------------------------------------------------------------
// Policies.

export type ConditionValue = string | number | boolean | readonly (string | number | boolean)[];

/** One statement, in IAM's JSON grammar (the evaluator validates the details). */
export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Principal?: unknown;
  readonly NotPrincipal?: unknown;
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, ConditionValue>>>>;
}

export interface PolicyDocument {
  readonly Version?: string;
  readonly Id?: string;
  readonly Statement: PolicyStatement | readonly PolicyStatement[];
}

/** A policy with the name a result cites it by (inline name, managed policy ARN, ...). */
export interface NamedPolicy {
  readonly name: string;
  readonly document: PolicyDocument;
}

/** What IAM holds for a role: everything that decides what its sessions may do. */
export interface PrincipalPolicies {
  /** The role's ARN, path included (`aws:PrincipalArn` of its sessions). */
  readonly roleArn: string;
  readonly trustPolicy?: PolicyDocument;
  /** Named by the inline policy's name. */
  readonly inlinePolicies: readonly NamedPolicy[];
  /** Named by the managed policy's ARN. */
  readonly managedPolicies: readonly NamedPolicy[];
  readonly permissionsBoundary?: NamedPolicy;
  /** The role's tags (`aws:PrincipalTag/*`). */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * A policy document from IAM (or moto). IAM returns documents URL-encoded (RFC 3986);
 * plain JSON is accepted too.
 */
export function parsePolicyDocument(raw: string): PolicyDocument {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    try {
      parsed = JSON.parse(decodeURIComponent(raw));
    } catch {
      throw new Error(`not a policy document (JSON or URL-encoded JSON): ${raw.slice(0, 80)}`);
    }
  }
  if (typeof parsed !== 'object' || parsed === null || !('Statement' in parsed)) {
    throw new Error(`not a policy document (no Statement): ${raw.slice(0, 80)}`);
  }
  return parsed as PolicyDocument;
}

function statementsOf(document: PolicyDocument): readonly PolicyStatement[] {
  return Array.isArray(document.Statement)
    ? (document.Statement as readonly PolicyStatement[])
    : [document.Statement as PolicyStatement];
}

// ---------------------------------------------------------------------------------------
// Where the evaluator departs from AWS.

/**
 * Context keys the evaluator mishandles are moved, in the request context and in every
 * policy's conditions alike, to this carrier: `aws:RequestTag/<original key>`. A global key
 * with a `/` variable survives the evaluator's key filter for every action and is a
 * single-valued String, so conditions on it evaluate as AWS evaluates the original. Results
 * and explanations name the original key again.
 */
const CARRIER = 'aws:RequestTag/';

export const AWS_DIFFERENCES = {
  kmsEncryptionContext: {
    keys: 'kms:EncryptionContext:<context-key>',
    evaluator:
      "runSimulation drops these keys from the request context (its filter only matches keys whose variable part follows a '/', and this variable part follows a ':'), so every condition on them sees a missing key.",
    aws: 'KMS puts one kms:EncryptionContext:<key> per encryption-context pair of Encrypt/Decrypt in the request context (Service Authorization Reference; KMS developer guide, kms:EncryptionContext:context-key).',
    compensation: 'the keys travel under the carrier key in context and policies.',
  },
  putEventsEntryKeys: {
    keys: 'events:source, events:detail-type (PutEvents only)',
    evaluator:
      'iam-data types both keys ArrayOfString, so runSimulation always passes them as lists, and a condition operator without ForAllValues/ForAnyValue never matches a list: plain StringEquals on events:source never matches.',
    aws: "EventBridge authorizes PutEvents entry by entry (a refused entry fails alone with NotAuthorizedForSourceException / NotAuthorizedForDetailTypeException), and its condition table gives each key as the literal source / detail-type of the event: one value per entry. AWS's cross-account custom-bus example policy (EventBridge user guide, 'Example policy: Send events to a custom bus in a different account') was published with plain StringEquals on both keys; the current version of that page uses ForAllValues:StringEquals.",
    compensation:
      'for PutEvents, a key holding exactly one value travels as a single string under the carrier key: plain operators and ForAllValues/ForAnyValue then all match as they do on AWS. When this changes the decision, the result says so in `notes` (write ForAllValues:StringEquals to be right under both readings).',
  },
  literalWildcardInResource: {
    keys: 'a request resource containing `*` (API Gateway tag-on-create: /tags/<encoded ARN of the new resource ending in *>)',
    evaluator:
      'runSimulation reads a `*` in the request resource as a pattern and allows the request when a policy grants any resource it covers (a policy naming …%2Fapikeys%2Fabc allows a request for …%2Fapikeys%2F*).',
    aws: 'the request resource is a literal string; only policy resources are patterns, so …%2Fapikeys%2Fabc does not match a request for …%2Fapikeys%2F*, while /tags/* and …%2F? do.',
    compensation:
      'each `*` of the request resource (other than a bare `*`) is evaluated as one non-pattern character, U+2217; results name the original resource.',
  },
} as const;

/** Stands for a literal `*` of a request resource (see AWS_DIFFERENCES.literalWildcardInResource). */
const LITERAL_STAR = '\u2217';
const literalResource = (resource: string) =>
  resource === '*' ? resource : resource.replaceAll('*', LITERAL_STAR);

type CarriedKey = (key: string) => boolean;

const isEncryptionContextKey = (key: string) =>
  key.toLowerCase().startsWith('kms:encryptioncontext:');
const PUT_EVENTS_ENTRY_KEYS = ['events:source', 'events:detail-type'];
const isPutEventsEntryKey = (key: string) => PUT_EVENTS_ENTRY_KEYS.includes(key.toLowerCase());

/** The original key of a carried key; other keys unchanged. */
function uncarried(key: string): string {
  if (!key.toLowerCase().startsWith(CARRIER.toLowerCase())) return key;
  const original = key.slice(CARRIER.length);
  return isEncryptionContextKey(original) || isPutEventsEntryKey(original) ? original : key;
}

function carryContext(
  context: Readonly<Record<string, ContextValue>>,
  carried: CarriedKey,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(context)) {
    if (!carried(key)) {
      out[key] = typeof value === 'string' ? value : [...value];
    } else if (typeof value === 'string') {
      out[CARRIER + key] = value;
    } else if (value.length === 1 && value[0] !== undefined) {
      out[CARRIER + key] = value[0];
    } else {
      // simulate carries only one-valued keys: policies and context must agree.
      throw new Error(`cannot carry ${key} with ${value.length} values`);
    }
  }
  return out;
}

function carryPolicy(document: PolicyDocument, carried: CarriedKey): PolicyDocument {
  const statements = statementsOf(document).map((statement) => {
    if (!statement.Condition) return statement;
    const condition = Object.fromEntries(
      Object.entries(statement.Condition).map(([operator, keys]) => [
        operator,
        Object.fromEntries(
          Object.entries(keys).map(([key, value]) => [carried(key) ? CARRIER + key : key, value]),
        ),
      ]),
    );
    return { ...statement, Condition: condition };
  });
  return { ...document, Statement: statements };
}

// ---------------------------------------------------------------------------------------
// Results.

export type Decision = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';

export interface SimulationResult {
  readonly allowed: boolean;
  readonly decision: Decision;
  /** the deciding statement(s): Sid (or index) and which policy */
  readonly deciding: string[];
  readonly principal: string;
  readonly request: IamRequest;
  /** Where an {@link AWS_DIFFERENCES} compensation changed the decision. */
  readonly notes: readonly string[];
  /** Context keys the evaluator set aside as not applicable to the action/resource. */
  readonly ignoredContextKeys: readonly string[];
  /** Names the action, the resource ARN and the deciding statement(s). */
  explain(): string;
}

const DECISIONS = {
  Allowed: 'Allow',
  ExplicitlyDenied: 'ExplicitDeny',
  ImplicitlyDenied: 'ImplicitDeny',
} as const satisfies Record<string, Decision>;

/** Policy names as the evaluator reports them, back to what a reader recognises. */
interface PolicyNames {
  readonly identity: (id: string | undefined) => string;
  readonly resource: string;
}

function statementName(sid: string | undefined, index: number) {
  return sid ? `statement ${sid}` : `statement #${index}`;
}

function decidingStatements(analysis: RequestAnalysis, names: PolicyNames): string[] {
  if (analysis.result === 'Allowed') {
    return getGrantReasons(analysis).map((grant) => {
      const where =
        grant.policyType === 'resource'
          ? names.resource
          : grant.policyType === 'identity'
            ? names.identity(grant.policyIdentifier)
            : grant.policyType === 'pb'
              ? `permissions boundary ${grant.policyIdentifier}`
              : `${grant.policyType} policy ${grant.policyIdentifier}`;
      return `${where} ${statementName(grant.statementId, grant.statementIndex)}`;
    });
  }
  const denials = getDenialReasons(analysis).map((denial) => {
    const where =
      denial.policyType === 'resource'
        ? names.resource
        : denial.policyType === 'identity'
          ? denial.denialType === 'Explicit'
            ? names.identity(denial.policyIdentifier)
            : 'identity policies'
          : denial.policyType === 'pb'
            ? 'permissions boundary'
            : `${denial.policyType} policy`;
    return denial.denialType === 'Explicit'
      ? `${where} ${statementName(denial.statementId, denial.statementIndex)} denies it`
      : `${where}: no statement allows it`;
  });
  return denials.length > 0 ? denials : ['no statement allows it'];
}

function describeValue(value: ConditionExplain['values']): string {
  const values = Array.isArray(value) ? value : [value];
  return values.map((v) => v.value).join(', ');
}

/** Why a statement that names the action and resource did not apply. */
function mismatch(explain: StatementExplain): string {
  const reasons: string[] = [];
  if (explain.principalMatch === 'NoMatch') reasons.push('principal does not match');
  for (const condition of explain.conditions ?? []) {
    if (condition.matches) continue;
    const key = uncarried(condition.conditionKeyValue);
    if (condition.operator.toLowerCase() === 'null') {
      // Null [false] fails on an absent key, Null [true] on a present one.
      const wantedAbsent = describeValue(condition.values).toLowerCase() === 'true';
      reasons.push(
        `Null ${key} [${describeValue(condition.values)}]: ${wantedAbsent ? 'is in the request' : 'not in the request'}`,
      );
      continue;
    }
    const got = condition.failedBecauseMissing
      ? 'not in the request'
      : condition.failedBecauseArray
        ? 'is multi-valued (needs ForAllValues/ForAnyValue)'
        : `is ${condition.resolvedConditionKeyValue ?? '?'}`;
    reasons.push(`${condition.operator} ${key} [${describeValue(condition.values)}]: ${got}`);
  }
  return reasons.length > 0 ? reasons.join('; ') : 'does not apply';
}

/** Statements whose action and resource match but that still did not apply. */
function closeStatements(analysis: RequestAnalysis, names: PolicyNames): string[] {
  const lines: string[] = [];
  const near = (
    statements: readonly { policyId: string; explain: StatementExplain }[] | undefined,
    where: (policyId: string) => string,
  ) => {
    for (const s of statements ?? []) {
      if (!s.explain.actionMatch || !s.explain.resourceMatch || s.explain.matches) continue;
      lines.push(`${where(s.policyId)} statement ${s.explain.identifier}: ${mismatch(s.explain)}`);
    }
  };
  near(analysis.identityAnalysis?.unmatchedStatements, (id) => names.identity(id));
  near(analysis.resourceAnalysis?.unmatchedStatements, () => names.resource);
  return lines;
}

function formatContext(context: Readonly<Record<string, ContextValue>>): string {
  return Object.entries(context)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : `[${v.join(', ')}]`}`)
    .join(', ');
}

/** The analysis that decided a (possibly wildcard) simulation, if the evaluator kept one. */
function decidingAnalysis(results: RunSimulationResults): RequestAnalysis | undefined {
  if (results.resultType === 'single') return results.result.analysis;
  if (results.resultType !== 'wildcard') return undefined;
  const pick =
    results.results.find((r) => r.analysis.result === results.overallResult) ?? results.results[0];
  return pick?.analysis;
}

function simulationError(results: RunSimulationResults, what: string): Error {
  const detail = results.resultType === 'error' ? JSON.stringify(results.errors) : '';
  return new Error(`iam-simulate refused to evaluate ${what}: ${detail}`);
}

// ---------------------------------------------------------------------------------------
// Evaluation.

export interface SimulateOptions {
  /** The resource's own policy: KMS key policy, bus policy, queue policy, function policy. */
  readonly resourcePolicy?: NamedPolicy;
  /** Session name of the role session making the call (Lambda: the function name). */
  readonly sessionName?: string;
  /** `aws:CurrentTime` / `aws:EpochTime`; default now. */
  readonly now?: Date;
  /** `aws:SecureTransport`; default true (the SDK calls AWS over HTTPS). */
  readonly secureTransport?: boolean;
  /**
   * Evaluate PutEvents' events:source / events:detail-type as the evaluator does on its own
   * (lists: plain operators never match) instead of as AWS does per entry. Default false.
   */
  readonly strictEventKeys?: boolean;
}

const accountOfArn = (arn: string) => arn.split(':')[4] ?? '';

/** `arn:aws:iam::A:role/path/name` → `arn:aws:sts::A:assumed-role/name/session`. */
export function sessionArnOf(roleArn: string, sessionName: string): string {
  const [arn, partition, , , account, resource = ''] = roleArn.split(':');
  if (arn !== 'arn' || !resource.startsWith('role/')) throw new Error(`not a role ARN: ${roleArn}`);
  const name = resource.slice(resource.lastIndexOf('/') + 1);
  return `arn:${partition}:sts::${account}:assumed-role/${name}/${sessionName}`;
}

/** The keys AWS puts in every request context from the principal and the connection. */
function principalContext(principal: PrincipalPolicies, options: SimulateOptions) {
  const now = options.now ?? new Date();
  return {
    'aws:PrincipalArn': principal.roleArn,
    'aws:PrincipalAccount': accountOfArn(principal.roleArn),
    'aws:PrincipalType': 'AssumedRole',
    'aws:PrincipalIsAWSService': 'false',
    'aws:ViaAWSService': 'false',
    'aws:SecureTransport': String(options.secureTransport ?? true),
    'aws:CurrentTime': now.toISOString(),
    'aws:EpochTime': String(Math.floor(now.getTime() / 1000)),
    ...Object.fromEntries(
      Object.entries(principal.tags ?? {}).map(([k, v]) => [`aws:PrincipalTag/${k}`, v]),
    ),
  };
}

interface Evaluation {
  readonly results: RunSimulationResults;
  readonly decision: Decision;
}

async function evaluate(
  simulation: Simulation,
  identity: readonly NamedPolicy[],
  boundary: NamedPolicy | undefined,
  resourcePolicy: NamedPolicy | undefined,
  carried: CarriedKey,
  what: string,
): Promise<Evaluation> {
  const results = await runSimulation(
    {
      ...simulation,
      request: {
        ...simulation.request,
        resource: {
          ...simulation.request.resource,
          resource: literalResource(simulation.request.resource.resource),
        },
        contextVariables: carryContext(simulation.request.contextVariables, carried),
      },
      identityPolicies: identity.map((p) => ({
        name: p.name,
        policy: carryPolicy(p.document, carried),
      })),
      ...(boundary && {
        permissionBoundaryPolicies: [
          { name: boundary.name, policy: carryPolicy(boundary.document, carried) },
        ],
      }),
      ...(resourcePolicy && { resourcePolicy: carryPolicy(resourcePolicy.document, carried) }),
    },
    { simulationMode: 'Strict' },
  );
  if (results.resultType === 'error') throw simulationError(results, what);
  return { results, decision: DECISIONS[results.overallResult] };
}

function ignoredKeys(results: RunSimulationResults): string[] {
  const analyses =
    results.resultType === 'single'
      ? [results.result]
      : results.resultType === 'wildcard'
        ? results.results
        : [];
  return [...new Set(analyses.flatMap((a) => a.ignoredContextKeys ?? []).map(uncarried))];
}

function result(
  evaluation: Evaluation,
  request: IamRequest,
  principal: string,
  names: PolicyNames,
  notes: readonly string[],
): SimulationResult {
  const analysis = decidingAnalysis(evaluation.results);
  const deciding = analysis ? decidingStatements(analysis, names) : ['no statement allows it'];
  const ignoredContextKeys = ignoredKeys(evaluation.results);
  const allowed = evaluation.decision === 'Allow';
  return {
    allowed,
    decision: evaluation.decision,
    deciding,
    principal,
    request,
    notes,
    ignoredContextKeys,
    explain() {
      const head = allowed
        ? `ALLOWED: ${principal} may ${request.action} on ${request.resource}`
        : `DENIED (${evaluation.decision}): ${principal} may not ${request.action} on ${request.resource}`;
      const lines = [head, `  deciding: ${deciding.join('; ')}`];
      if (!allowed && analysis) {
        const close = closeStatements(analysis, names);
        if (close.length > 0) {
          lines.push('  statements that name this action and resource but do not apply:');
          lines.push(...close.map((line) => `    ${line}`));
        }
      }
      lines.push(`  request context: ${formatContext(request.context) || '(none)'}`);
      if (ignoredContextKeys.length > 0) {
        lines.push(
          `  set aside by the evaluator as not applicable: ${ignoredContextKeys.join(', ')}`,
        );
      }
      lines.push(...notes.map((note) => `  note: ${note}`));
      return lines.join('\n');
    },
  };
}

/**
 * Evaluates one IAM request made by a session of the role `principal` describes. The
 * resource's account is the one in its ARN (the principal's when the ARN has none, as API
 * Gateway's): in another account, both an identity policy and the resource policy must
 * allow it, as on AWS.
 */
export async function simulate(
  request: IamRequest,
  principal: PrincipalPolicies,
  options: SimulateOptions = {},
): Promise<SimulationResult> {
  const principalArn = sessionArnOf(principal.roleArn, options.sessionName ?? 'simulated');
  const resourceAccount = accountOfArn(request.resource) || accountOfArn(principal.roleArn);
  const identity = [...principal.inlinePolicies, ...principal.managedPolicies];
  const names: PolicyNames = {
    identity: (id) => `identity policy ${id ?? '?'}`,
    resource: `resource policy ${options.resourcePolicy?.name ?? '?'}`,
  };
  const simulation: Simulation = {
    request: {
      principal: principalArn,
      action: request.action,
      resource: { resource: request.resource, accountId: resourceAccount },
      contextVariables: { ...principalContext(principal, options), ...copy(request.context) },
    },
    identityPolicies: [],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  };
  const what = `${request.action} on ${request.resource}`;
  const putEvents = request.action.toLowerCase() === 'events:putevents';
  // One entry's keys hold one value each; a request with several is left to the evaluator.
  const oneValueEach = Object.entries(request.context)
    .filter(([key]) => isPutEventsEntryKey(key))
    .every(([, value]) => typeof value === 'string' || value.length === 1);
  const perEntry = putEvents && oneValueEach && !options.strictEventKeys;
  const carried: CarriedKey = (key) =>
    isEncryptionContextKey(key) || (perEntry && isPutEventsEntryKey(key));
  const boundary = principal.permissionsBoundary;
  const evaluation = await evaluate(
    simulation,
    identity,
    boundary,
    options.resourcePolicy,
    carried,
    what,
  );
  const notes: string[] = [];
  if (perEntry && hasPutEventsKeys(request)) {
    const strict = await evaluate(
      simulation,
      identity,
      boundary,
      options.resourcePolicy,
      isEncryptionContextKey,
      what,
    );
    if (strict.decision !== evaluation.decision) {
      notes.push(
        `AWS_DIFFERENCES.putEventsEntryKeys decided this: evaluated per entry (one value), ` +
          `${evaluation.decision}; evaluated as lists, ${strict.decision}. A condition that ` +
          'uses ForAllValues:StringEquals on events:source / events:detail-type holds under both.',
      );
    }
  }
  return result(evaluation, request, principalArn, names, notes);
}

function hasPutEventsKeys(request: IamRequest) {
  return Object.keys(request.context).some(isPutEventsEntryKey);
}

/** A mutable copy, as the evaluator's input type wants it. */
function copy(context: Readonly<Record<string, ContextValue>>): Record<string, string | string[]> {
  return Object.fromEntries(
    Object.entries(context).map(([k, v]) => [k, typeof v === 'string' ? v : [...v]]),
  );
}

// ---------------------------------------------------------------------------------------
// A whole call, and trust policies.

export interface CallSimulation {
  readonly allowed: boolean;
  /** One result per IAM request of the call, in order. */
  readonly results: readonly SimulationResult[];
  /** The results that deny (empty when allowed). */
  readonly denials: readonly SimulationResult[];
  explain(): string;
}

export interface SimulateCallOptions extends Omit<SimulateOptions, 'resourcePolicy'> {
  /** The policy of the resource `arn` names, if it has one (KMS key, bus, queue, function). */
  readonly resourcePolicyOf?: (
    arn: string,
  ) => NamedPolicy | undefined | Promise<NamedPolicy | undefined>;
}

/** Every IAM request of a call; the call is allowed only if all of them are. */
export async function simulateCall(
  call: DescribedCall,
  principal: PrincipalPolicies,
  options: SimulateCallOptions = {},
): Promise<CallSimulation> {
  const { resourcePolicyOf, ...rest } = options;
  const cache = new Map<string, Promise<SimulationResult>>();
  const results: SimulationResult[] = [];
  for (const request of call.iam) {
    const key = JSON.stringify(request);
    let pending = cache.get(key);
    if (!pending) {
      pending = (async () => {
        const resourcePolicy = await resourcePolicyOf?.(request.resource);
        return simulate(request, principal, { ...rest, ...(resourcePolicy && { resourcePolicy }) });
      })();
      cache.set(key, pending);
    }
    results.push(await pending);
  }
  const denials = results.filter((r) => !r.allowed);
  return {
    allowed: denials.length === 0,
    results,
    denials,
    explain() {
      const head = `${call.service} ${call.operation} (${call.iam.length} IAM request(s)): ${denials.length === 0 ? 'allowed' : 'DENIED'}`;
      return [head, ...(denials.length > 0 ? denials : results).map((r) => r.explain())].join('\n');
    },
  };
}

/** An AWS service acting on its own behalf (a rule, a schedule, Lambda). */
export interface ServiceCaller {
  /** The service principal, e.g. `events.amazonaws.com`. */
  readonly service: string;
  /** `aws:SourceAccount`: the account of the function, schedule or rule acting. */
  readonly sourceAccount: string;
  /** `aws:SourceArn`, when the service sets it (the rule's or schedule's ARN). */
  readonly sourceArn?: string;
}

/**
 * A request made by an AWS service principal, which has no identity policies: only the
 * resource policy (a trust policy, a queue policy, a function policy) can allow it.
 */
export async function simulateServiceRequest(
  request: IamRequest,
  caller: ServiceCaller,
  resourcePolicy: NamedPolicy | undefined,
): Promise<SimulationResult> {
  const context: Record<string, ContextValue> = {
    'aws:PrincipalServiceName': caller.service,
    'aws:PrincipalIsAWSService': 'true',
    'aws:SourceAccount': caller.sourceAccount,
    ...(caller.sourceArn && { 'aws:SourceArn': caller.sourceArn }),
    ...request.context,
  };
  const full: IamRequest = { ...request, context };
  const evaluation = await evaluate(
    {
      request: {
        principal: caller.service,
        action: request.action,
        resource: {
          resource: request.resource,
          accountId: accountOfArn(request.resource) || caller.sourceAccount,
        },
        contextVariables: copy(context),
      },
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    [],
    undefined,
    resourcePolicy,
    isEncryptionContextKey,
    `${request.action} on ${request.resource} by ${caller.service}`,
  );
  return result(
    evaluation,
    full,
    caller.service,
    {
      identity: () => 'identity policies',
      resource: `resource policy ${resourcePolicy?.name ?? '(none)'}`,
    },
    [],
  );
}

export interface AssumingService extends ServiceCaller {
  readonly service: 'lambda.amazonaws.com' | 'scheduler.amazonaws.com' | 'events.amazonaws.com';
  /** The role being assumed; default a role of `sourceAccount`. */
  readonly roleArn?: string;
}

/** May `caller.service` assume a role with this trust policy (`sts:AssumeRole`)? */
export async function simulateAssumeRole(
  trustPolicy: PolicyDocument,
  caller: AssumingService,
): Promise<SimulationResult> {
  const roleArn =
    caller.roleArn ?? `arn:aws:iam::${caller.sourceAccount}:role/trust-policy-under-test`;
  return simulateServiceRequest(
    { action: 'sts:AssumeRole', resource: roleArn, context: {} },
    caller,
    { name: `trust policy of ${roleArn}`, document: trustPolicy },
  );
}

// ---------------------------------------------------------------------------------------
// Reading a role from IAM.

async function managedPolicy(iam: IAMClient, policyArn: string): Promise<NamedPolicy> {
  const { Policy } = await iam.send(new GetPolicyCommand({ PolicyArn: policyArn }));
  if (!Policy?.DefaultVersionId) throw new Error(`policy ${policyArn} has no default version`);
  const { PolicyVersion } = await iam.send(
    new GetPolicyVersionCommand({ PolicyArn: policyArn, VersionId: Policy.DefaultVersionId }),
  );
  if (!PolicyVersion?.Document) throw new Error(`policy ${policyArn} has no document`);
  return { name: policyArn, document: parsePolicyDocument(PolicyVersion.Document) };
}

/**
 * A role's trust policy, inline policies (ListRolePolicies/GetRolePolicy), attached managed
 * policies (their default versions), permissions boundary and tags, as IAM holds them.
 */
export async function loadRolePolicies(
  iam: IAMClient,
  roleArn: string,
): Promise<PrincipalPolicies> {
  const roleName = roleArn.slice(roleArn.lastIndexOf('/') + 1);
  const { Role } = await iam.send(new GetRoleCommand({ RoleName: roleName }));
  if (!Role) throw new Error(`GetRole ${roleName} returned no role`);

  const inlinePolicies: NamedPolicy[] = [];
  for await (const page of paginateListRolePolicies({ client: iam }, { RoleName: roleName })) {
    for (const policyName of page.PolicyNames ?? []) {
      const { PolicyDocument: raw } = await iam.send(
        new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }),
      );
      if (!raw) throw new Error(`inline policy ${policyName} of ${roleName} has no document`);
      inlinePolicies.push({ name: policyName, document: parsePolicyDocument(raw) });
    }
  }

  const managedPolicies: NamedPolicy[] = [];
  for await (const page of paginateListAttachedRolePolicies(
    { client: iam },
    { RoleName: roleName },
  )) {
    for (const attached of page.AttachedPolicies ?? []) {
      if (attached.PolicyArn) managedPolicies.push(await managedPolicy(iam, attached.PolicyArn));
    }
  }

  const boundaryArn = Role.PermissionsBoundary?.PermissionsBoundaryArn;
  const tags = Object.fromEntries(
    (Role.Tags ?? []).flatMap((t) => (t.Key ? [[t.Key, t.Value ?? '']] : [])),
  );
  return {
    roleArn: Role.Arn ?? roleArn,
    ...(Role.AssumeRolePolicyDocument && {
      trustPolicy: parsePolicyDocument(Role.AssumeRolePolicyDocument),
    }),
    inlinePolicies,
    managedPolicies,
    ...(boundaryArn && { permissionsBoundary: await managedPolicy(iam, boundaryArn) }),
    tags,
  };
}
