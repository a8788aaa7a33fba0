import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import {
  ApiGatewayKeyStore,
  DynamoDbLedger,
  EventBridgePublisher,
  KmsKeySealer,
  rotationContext,
  SecretValue,
} from '@keyrot/shared';
import { describeCall, type IamRequest } from '../../iam/describe-call';
import {
  AWS_DIFFERENCES,
  sessionArnOf,
  simulate,
  simulateAssumeRole,
  simulateCall,
  simulateServiceRequest,
  type NamedPolicy,
  type PolicyDocument,
  type PolicyStatement,
  type PrincipalPolicies,
} from '../../iam/simulate';
import { captureOne, clientConfig } from './capture';
import {
  API,
  apiBusPolicy,
  apiForwardRole,
  apiSchedulerRole,
  ARNS,
  deadLetterQueuePolicy,
  deployCheckRole,
  EDGE,
  edgeBusPolicy,
  edgeForwardRole,
  edgeKeyPolicy,
  functionRole,
  REGION,
} from './keyrot-policies';

const issuer = functionRole('key-issuer');
const reaper = functionRole('key-reaper');
const edgeUpdater = functionRole('edge-updater');
const ROTATION = 'rot_20261125T090000Z_test0001';
const ENCRYPTION_CONTEXT = rotationContext(ROTATION, 'kloudpepper-api-key', 'k3y1d');

const request = (
  action: string,
  resource: string,
  context: IamRequest['context'] = {},
): IamRequest => ({ action, resource, context: { 'aws:RequestedRegion': REGION, ...context } });

const keyPolicy = (document = edgeKeyPolicy()): NamedPolicy => ({
  name: 'EdgeKey key policy',
  document,
});

/** The role with one statement (by Sid) removed from its inline policy. */
function without(role: PrincipalPolicies, sid: string): PrincipalPolicies {
  return {
    ...role,
    inlinePolicies: role.inlinePolicies.map((p) => ({
      ...p,
      document: { ...p.document, Statement: statements(p.document).filter((s) => s.Sid !== sid) },
    })),
  };
}

function statements(document: PolicyDocument): PolicyStatement[] {
  return Array.isArray(document.Statement)
    ? [...(document.Statement as PolicyStatement[])]
    : [document.Statement as PolicyStatement];
}

/** `document` with each statement passed through `change`. */
function mapStatements(
  document: PolicyDocument,
  change: (s: PolicyStatement) => PolicyStatement,
): PolicyDocument {
  return { ...document, Statement: statements(document).map(change) };
}

const kmsContext = (account: string) => ({
  'kms:CallerAccount': account,
  ...Object.fromEntries(
    Object.entries(ENCRYPTION_CONTEXT).map(([k, v]) => [`kms:EncryptionContext:${k}`, v]),
  ),
  'kms:EncryptionContextKeys': Object.keys(ENCRYPTION_CONTEXT),
});

describe('simulate: identity policies', () => {
  const deleteKey = request('apigateway:DELETE', `arn:aws:apigateway:${REGION}::/apikeys/k3y1d`, {
    'aws:ResourceTag/keyrot:managed': 'true',
  });

  it('allows what a statement grants, naming the statement and its policy', async () => {
    const result = await simulate(deleteKey, reaper);
    expect(result).toMatchObject({ allowed: true, decision: 'Allow' });
    expect(result.deciding).toEqual([
      'identity policy keyrot-key-reaper-prod-retireKeys statement DeleteKeyrotManagedKeys',
    ]);
    expect(result.explain()).toMatch(/^ALLOWED: arn:aws:sts::111111111111:assumed-role\//);
  });

  it('denies it once that statement is removed: no statement allows it', async () => {
    const result = await simulate(deleteKey, without(reaper, 'DeleteKeyrotManagedKeys'));
    expect(result).toMatchObject({ allowed: false, decision: 'ImplicitDeny' });
    expect(result.deciding).toEqual(['identity policies: no statement allows it']);
    const text = result.explain();
    expect(text).toContain('apigateway:DELETE');
    expect(text).toContain(`arn:aws:apigateway:${REGION}::/apikeys/k3y1d`);
    expect(text).toContain('no statement allows it');
  });

  it('an explicit Deny in a managed policy wins, and is named', async () => {
    const denyDeletes: NamedPolicy = {
      name: `arn:aws:iam::${API}:policy/no-key-deletes`,
      document: {
        Version: '2012-10-17',
        Statement: [
          { Sid: 'NoDeletes', Effect: 'Deny', Action: 'apigateway:DELETE', Resource: '*' },
        ],
      },
    };
    const result = await simulate(deleteKey, { ...reaper, managedPolicies: [denyDeletes] });
    expect(result.decision).toBe('ExplicitDeny');
    expect(result.deciding).toEqual([
      `identity policy arn:aws:iam::${API}:policy/no-key-deletes statement NoDeletes denies it`,
    ]);
    expect(result.explain()).toContain('statement NoDeletes denies it');
  });

  it('a statement without a Sid is cited by its index', async () => {
    const anonymous: PrincipalPolicies = {
      ...reaper,
      inlinePolicies: [
        {
          name: 'plain',
          document: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 'apigateway:DELETE', Resource: '*' }],
          },
        },
      ],
    };
    expect((await simulate(deleteKey, anonymous)).deciding).toEqual([
      'identity policy plain statement #1',
    ]);
  });

  it('a permissions boundary that does not allow the action denies it', async () => {
    const boundary = (action: string): NamedPolicy => ({
      name: `arn:aws:iam::${API}:policy/boundary`,
      document: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }],
      },
    });
    const allowed = await simulate(deleteKey, {
      ...reaper,
      permissionsBoundary: boundary('apigateway:*'),
    });
    const denied = await simulate(deleteKey, {
      ...reaper,
      permissionsBoundary: boundary('dynamodb:*'),
    });
    expect(allowed.allowed).toBe(true);
    expect(denied.allowed).toBe(false);
  });

  it('DynamoDB: an index is its own resource (the reaper may query GSI1, not GSI2)', async () => {
    const gsi1 = await simulate(request('dynamodb:Query', `${ARNS.table}/index/GSI1`), reaper);
    const gsi2 = await simulate(request('dynamodb:Query', `${ARNS.table}/index/GSI2`), reaper);
    const issuerGsi1 = await simulate(
      request('dynamodb:Query', `${ARNS.table}/index/GSI1`),
      issuer,
    );
    expect(gsi1.allowed).toBe(true);
    expect(gsi2.allowed).toBe(false);
    // The issuer's WriteTheLedger names the table only (it queries no index).
    expect(issuerGsi1.allowed).toBe(false);
  });

  it('CloudFront: the edge-updater may update its distribution only', async () => {
    const own = await simulate(
      request('cloudfront:UpdateDistribution', ARNS.distribution),
      edgeUpdater,
    );
    const other = await simulate(
      request('cloudfront:UpdateDistribution', `arn:aws:cloudfront::${EDGE}:distribution/EOTHER`),
      edgeUpdater,
    );
    expect(own.deciding).toEqual([
      'identity policy keyrot-edge-updater-prod-updateEdge statement ReadAndUpdateTheDistributions',
    ]);
    expect(other.allowed).toBe(false);
  });

  it('Scheduler: schedules in its group only, and PassRole only to Scheduler', async () => {
    const schedule = (group: string) =>
      request(
        'scheduler:CreateSchedule',
        `arn:aws:scheduler:${REGION}:${EDGE}:schedule/${group}/x`,
      );
    const passRole = (service: string) =>
      request('iam:PassRole', ARNS.deployCheckRole, { 'iam:PassedToService': service });
    expect((await simulate(schedule(ARNS.checkGroup), edgeUpdater)).allowed).toBe(true);
    expect((await simulate(schedule('default'), edgeUpdater)).allowed).toBe(false);
    expect((await simulate(passRole('scheduler.amazonaws.com'), edgeUpdater)).allowed).toBe(true);
    const toLambda = await simulate(passRole('lambda.amazonaws.com'), edgeUpdater);
    expect(toLambda.allowed).toBe(false);
    expect(toLambda.explain()).toContain(
      'StringEquals iam:PassedToService [scheduler.amazonaws.com]: is lambda.amazonaws.com',
    );
  });
});

describe('simulate: calls captured from keyrot’s adapters', () => {
  it('CreateApiKey with keyrot’s tags: the POST and the tag PUT are both allowed', async () => {
    const tags = {
      'keyrot:managed': 'true',
      'keyrot:target': 'kloudpepper-api-key',
      'keyrot:rotation': ROTATION,
    };
    const call = await captureOne((e) =>
      new ApiGatewayKeyStore(new APIGatewayClient(clientConfig(e))).createKey('kp', tags),
    );
    const result = await simulateCall(await describeCall(call, API), issuer);
    expect(result.results.map((r) => [r.request.action, r.deciding])).toEqual([
      [
        'apigateway:POST',
        ['identity policy keyrot-key-issuer-prod-issueKey statement CreateKeysTaggedForATarget'],
      ],
      [
        'apigateway:PUT',
        ['identity policy keyrot-key-issuer-prod-issueKey statement TagOnlyKeysBeingCreated'],
      ],
    ]);
    expect(result.allowed).toBe(true);
  });

  it('…and a tag key outside keyrot’s list denies the create and the tag PUT', async () => {
    const call = await captureOne((e) =>
      new ApiGatewayKeyStore(new APIGatewayClient(clientConfig(e))).createKey('kp', {
        'keyrot:managed': 'true',
        owner: 'someone',
      }),
    );
    const result = await simulateCall(await describeCall(call, API), issuer);
    expect(result.allowed).toBe(false);
    expect(result.denials.map((d) => d.request.action)).toEqual([
      'apigateway:POST',
      'apigateway:PUT',
    ]);
    expect(result.explain()).toMatch(
      /statement CreateKeysTaggedForATarget: .*ForAllValues:StringEquals aws:TagKeys \[keyrot:managed, keyrot:target, keyrot:rotation\]/,
    );
  });

  it('AWS_DIFFERENCES.literalWildcardInResource: the tag PUT’s `*` is literal, as on AWS', async () => {
    const tagPut = request(
      'apigateway:PUT',
      `arn:aws:apigateway:${REGION}::/tags/arn%3Aaws%3Aapigateway%3A${REGION}%3A%3A%2Fapikeys%2F*`,
      { 'aws:TagKeys': ['keyrot:managed'], 'aws:RequestTag/keyrot:managed': 'true' },
    );
    const naming = (resource: string): PrincipalPolicies => ({
      ...issuer,
      inlinePolicies: [
        {
          name: 'tags',
          document: {
            Version: '2012-10-17',
            Statement: [
              { Sid: 'Tag', Effect: 'Allow', Action: 'apigateway:PUT', Resource: resource },
            ],
          },
        },
      ],
    });
    const oneKey = `arn:aws:apigateway:${REGION}::/tags/arn%3Aaws%3Aapigateway%3A${REGION}%3A%3A%2Fapikeys%2Fabc`;
    const denied = await simulate(tagPut, naming(oneKey));
    expect(denied.decision).toBe('ImplicitDeny');
    expect(denied.explain()).toContain(tagPut.resource);
    expect((await simulate(tagPut, naming(`arn:aws:apigateway:${REGION}::/tags/*`))).allowed).toBe(
      true,
    );
    // The evaluator on its own reads the request's `*` as a pattern and allows it.
    const raw = await runSimulation(
      {
        request: {
          principal: sessionArnOf(issuer.roleArn, 's'),
          action: 'apigateway:PUT',
          resource: { resource: tagPut.resource, accountId: API },
          contextVariables: {},
        },
        identityPolicies: naming(oneKey).inlinePolicies.map((p) => ({
          name: p.name,
          policy: p.document,
        })),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
      },
      {},
    );
    expect(raw.resultType !== 'error' && raw.overallResult).toBe('Allowed');
  });

  it('DeleteApiKey by the issuer: only a key tagged keyrot:managed=true (resource tags)', async () => {
    const call = await captureOne((e) =>
      new ApiGatewayKeyStore(new APIGatewayClient(clientConfig(e))).deleteKey('k3y1d'),
    );
    const tagged = await describeCall(call, API, {
      resourceTags: () =>
        Promise.resolve({ 'keyrot:managed': 'true', 'keyrot:target': 'kloudpepper-api-key' }),
    });
    const untagged = await describeCall(call, API, { resourceTags: () => Promise.resolve({}) });
    expect((await simulateCall(tagged, issuer)).allowed).toBe(true);
    const denied = await simulateCall(untagged, issuer);
    expect(denied.allowed).toBe(false);
    expect(denied.explain()).toContain(
      'statement RollBackOwnNewKey: StringEquals aws:ResourceTag/keyrot:managed [true]: not in the request',
    );
  });

  it('TransactWriteItems (finish): every entry must be allowed', async () => {
    const call = await captureOne((e) =>
      new DynamoDbLedger(new DynamoDBClient(clientConfig(e)), 'keyrot-ledger').finish({
        rotationId: ROTATION,
        target: 'kloudpepper-api-key',
        step: 'FAILED',
        at: '2026-11-25T09:00:00.000Z',
        actor: { function: 'issuer', account: API },
        stage: 'issue',
        error: { name: 'Error', message: 'boom', retryable: false },
        rolledBack: false,
        newKeyMayBeAtEdge: false,
      }),
    );
    const described = await describeCall(call, API);
    expect((await simulateCall(described, issuer)).allowed).toBe(true);
    const noDeletes: PrincipalPolicies = {
      ...issuer,
      inlinePolicies: issuer.inlinePolicies.map((p) => ({
        ...p,
        document: mapStatements(p.document, (s) =>
          s.Sid === 'WriteTheLedger'
            ? { ...s, Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'] }
            : s,
        ),
      })),
    };
    const denied = await simulateCall(described, noDeletes);
    expect(denied.allowed).toBe(false);
    expect(denied.denials.map((d) => d.request.action)).toEqual(['dynamodb:DeleteItem']);
  });

  it('PutEvents on the service’s own bus needs no bus policy', async () => {
    const call = await captureOne((e) =>
      new EventBridgePublisher(new EventBridgeClient(clientConfig(e)), 'keyrot').publish(
        'KeyRetired',
        {
          version: 1,
          rotationId: ROTATION,
          target: {
            name: 'kp',
            apiKeyName: 'kp',
            usagePlanId: '0aj0l3',
            distributionId: 'E1',
            originId: 'o',
            headerName: 'x-api-key',
          },
          newKey: { id: 'k3y1d', fingerprint: '0123456789ab' },
          retiredKeys: [],
          completedAt: '2026-11-25T09:00:00.000Z',
        },
      ),
    );
    const result = await simulateCall(await describeCall(call, API), reaper);
    expect(result.results[0]?.deciding).toEqual([
      'identity policy keyrot-key-reaper-prod-retireKeys statement AnnounceOnOwnBus',
    ]);
  });
});

describe('simulate: KMS key policy (cross-account Encrypt, same-account Decrypt)', () => {
  const encrypt = (context: IamRequest['context']) => request('kms:Encrypt', ARNS.edgeKey, context);

  it('the issuer may encrypt with keyrot’s encryption context: identity and key policy both allow', async () => {
    const result = await simulate(encrypt(kmsContext(API)), issuer, {
      resourcePolicy: keyPolicy(),
    });
    expect(result.allowed).toBe(true);
    expect(result.deciding).toEqual([
      'identity policy keyrot-key-issuer-prod-issueKey statement SealForTheEdgeAccount',
      'resource policy EdgeKey key policy statement IssuerMayOnlyEncrypt',
    ]);
  });

  it('…and may not without it', async () => {
    const result = await simulate(encrypt({ 'kms:CallerAccount': API }), issuer, {
      resourcePolicy: keyPolicy(),
    });
    expect(result.decision).toBe('ImplicitDeny');
    expect(result.explain()).toContain(
      'statement SealForTheEdgeAccount: Null kms:EncryptionContext:keyrot:rotationId [false]: not in the request',
    );
  });

  it('AWS_DIFFERENCES.kmsEncryptionContext: the evaluator alone drops the context and denies', async () => {
    // The same simulation straight into iam-simulate's runSimulation.
    const raw = await runSimulation(
      {
        request: {
          principal: sessionArnOf(issuer.roleArn, 's'),
          action: 'kms:Encrypt',
          resource: { resource: ARNS.edgeKey, accountId: EDGE },
          contextVariables: { 'aws:PrincipalArn': issuer.roleArn, ...kmsContext(API) },
        },
        identityPolicies: issuer.inlinePolicies.map((p) => ({ name: p.name, policy: p.document })),
        resourcePolicy: edgeKeyPolicy(),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
      },
      {},
    );
    expect(raw.resultType).toBe('single');
    if (raw.resultType !== 'single') return;
    expect(raw.overallResult).toBe('ImplicitlyDenied');
    expect(raw.result.ignoredContextKeys).toContain('kms:EncryptionContext:keyrot:rotationId');
    expect(AWS_DIFFERENCES.kmsEncryptionContext.keys).toBe('kms:EncryptionContext:<context-key>');
  });

  it('cross-account: allowed by the identity policy, denied by a key policy naming another role', async () => {
    const otherRole = mapStatements(edgeKeyPolicy(), (s) =>
      s.Sid === 'IssuerMayOnlyEncrypt'
        ? {
            ...s,
            Condition: {
              ...s.Condition,
              ArnEquals: { 'aws:PrincipalArn': `arn:aws:iam::${API}:role/someone-else` },
            },
          }
        : s,
    );
    const identityOnly = await simulate(encrypt(kmsContext(API)), issuer, {
      resourcePolicy: keyPolicy(otherRole),
    });
    expect(identityOnly.decision).toBe('ImplicitDeny');
    expect(identityOnly.deciding).toEqual([
      'resource policy EdgeKey key policy: no statement allows it',
    ]);
    expect(identityOnly.explain()).toContain(
      `resource policy EdgeKey key policy statement IssuerMayOnlyEncrypt: ArnEquals aws:PrincipalArn [arn:aws:iam::${API}:role/someone-else]: is ${issuer.roleArn}`,
    );
  });

  it('cross-account without a key policy: the identity policy alone is not enough', async () => {
    expect((await simulate(encrypt(kmsContext(API)), issuer)).allowed).toBe(false);
  });

  it('the edge-updater may decrypt with the context; the issuer may only encrypt', async () => {
    const decrypt = (account: string) => request('kms:Decrypt', ARNS.edgeKey, kmsContext(account));
    const edge = await simulate(decrypt(EDGE), edgeUpdater, { resourcePolicy: keyPolicy() });
    expect(edge.deciding).toEqual([
      'identity policy keyrot-edge-updater-prod-updateEdge statement OpenSealedKeys',
      'resource policy EdgeKey key policy statement EdgeUpdaterMayOnlyDecrypt',
    ]);
    const byIssuer = await simulate(decrypt(API), issuer, { resourcePolicy: keyPolicy() });
    expect(byIssuer.allowed).toBe(false);
  });

  it('same account: an identity policy is not enough when the key policy does not name the role', async () => {
    const lenient: PrincipalPolicies = {
      ...deployCheckRole(),
      inlinePolicies: [
        {
          name: 'decrypt-anything',
          document: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' }],
          },
        },
      ],
    };
    const result = await simulate(request('kms:Decrypt', ARNS.edgeKey, kmsContext(EDGE)), lenient, {
      resourcePolicy: keyPolicy(),
    });
    expect(result.allowed).toBe(false);
  });

  it('the encryption context seal goes end to end from the sealer’s request', async () => {
    const call = await captureOne((e) =>
      new KmsKeySealer(new KMSClient(clientConfig(e))).seal(
        ARNS.edgeKey,
        new SecretValue('v4lue'),
        ENCRYPTION_CONTEXT,
      ),
    );
    const result = await simulateCall(await describeCall(call, API), issuer, {
      resourcePolicyOf: (arn) => (arn === ARNS.edgeKey ? keyPolicy() : undefined),
    });
    expect(result.allowed).toBe(true);
  });
});

describe('simulate: EventBridge bus policy (cross-account PutEvents)', () => {
  const put = (bus: string, source: string, detailType: string) =>
    request('events:PutEvents', bus, {
      'events:source': [source],
      'events:detail-type': [detailType],
    });
  const onApiBus = (policy = apiBusPolicy()): NamedPolicy => ({
    name: 'API bus policy',
    document: policy,
  });
  const forward = edgeForwardRole();

  it('the edge account’s forward role may put source keyrot EdgeUpdated on the API bus', async () => {
    const result = await simulate(put(ARNS.apiBus, 'keyrot', 'EdgeUpdated'), forward, {
      resourcePolicy: onApiBus(),
    });
    expect(result.allowed).toBe(true);
    expect(result.deciding).toEqual([
      'identity policy forward-to-api-bus statement #1',
      'resource policy API bus policy statement keyrot-edge-account',
    ]);
  });

  it('…and not another source, nor another detail type', async () => {
    const otherSource = await simulate(put(ARNS.apiBus, 'other', 'EdgeUpdated'), forward, {
      resourcePolicy: onApiBus(),
    });
    const otherType = await simulate(put(ARNS.apiBus, 'keyrot', 'KeyCreated'), forward, {
      resourcePolicy: onApiBus(),
    });
    expect(otherSource.decision).toBe('ImplicitDeny');
    expect(otherSource.deciding).toEqual([
      'resource policy API bus policy: no statement allows it',
    ]);
    expect(otherSource.explain()).toContain('StringEquals events:source [keyrot]: is other');
    expect(otherType.allowed).toBe(false);
  });

  it('AWS_DIFFERENCES.putEventsEntryKeys: plain StringEquals matches per entry; as lists it would not', async () => {
    const perEntry = await simulate(put(ARNS.apiBus, 'keyrot', 'EdgeUpdated'), forward, {
      resourcePolicy: onApiBus(),
    });
    const strict = await simulate(put(ARNS.apiBus, 'keyrot', 'EdgeUpdated'), forward, {
      resourcePolicy: onApiBus(),
      strictEventKeys: true,
    });
    expect(perEntry.allowed).toBe(true);
    expect(perEntry.notes).toEqual([expect.stringContaining('AWS_DIFFERENCES.putEventsEntryKeys')]);
    expect(strict.allowed).toBe(false);
    expect(strict.explain()).toContain('is multi-valued (needs ForAllValues/ForAnyValue)');
  });

  it('…while ForAllValues:StringEquals (AWS’s current example) holds under both readings', async () => {
    const forAll = mapStatements(apiBusPolicy(), (s) => ({
      ...s,
      Condition: { 'ForAllValues:StringEquals': s.Condition?.StringEquals ?? {} },
    }));
    for (const strictEventKeys of [false, true]) {
      const result = await simulate(put(ARNS.apiBus, 'keyrot', 'RotationFailed'), forward, {
        resourcePolicy: onApiBus(forAll),
        strictEventKeys,
      });
      expect(result.allowed).toBe(true);
      expect(result.notes).toEqual([]);
      const other = await simulate(put(ARNS.apiBus, 'intruder', 'RotationFailed'), forward, {
        resourcePolicy: onApiBus(forAll),
        strictEventKeys,
      });
      expect(other.allowed).toBe(false);
    }
  });

  it('a request carrying several sources at once is left to the evaluator (lists)', async () => {
    const both = request('events:PutEvents', ARNS.apiBus, {
      'events:source': ['keyrot', 'other'],
      'events:detail-type': ['EdgeUpdated'],
    });
    const result = await simulate(both, forward, { resourcePolicy: onApiBus() });
    expect(result.allowed).toBe(false);
    expect(result.notes).toEqual([]);
  });

  it('the evaluator on its own: plain StringEquals on events:source never matches', async () => {
    const raw = await runSimulation(
      {
        request: {
          principal: sessionArnOf(forward.roleArn, 's'),
          action: 'events:PutEvents',
          resource: { resource: ARNS.apiBus, accountId: API },
          contextVariables: { 'events:source': 'keyrot', 'events:detail-type': 'EdgeUpdated' },
        },
        identityPolicies: forward.inlinePolicies.map((p) => ({ name: p.name, policy: p.document })),
        resourcePolicy: apiBusPolicy(),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
      },
      {},
    );
    expect(raw.resultType !== 'error' && raw.overallResult).toBe('ImplicitlyDenied');
  });

  it('the API account’s forward role may put KeyCreated on the edge bus', async () => {
    const result = await simulate(put(ARNS.edgeBus, 'keyrot', 'KeyCreated'), apiForwardRole(), {
      resourcePolicy: { name: 'edge bus policy', document: edgeBusPolicy() },
    });
    expect(result.allowed).toBe(true);
    const noPolicy = await simulate(put(ARNS.edgeBus, 'keyrot', 'KeyCreated'), apiForwardRole());
    expect(noPolicy.allowed).toBe(false);
  });

  it('a function may not put on the other account’s bus: its identity policy names its own', async () => {
    const result = await simulate(put(ARNS.apiBus, 'keyrot', 'EdgeUpdated'), edgeUpdater, {
      resourcePolicy: onApiBus(),
    });
    expect(result.allowed).toBe(false);
    expect(result.deciding).toEqual(['identity policies: no statement allows it']);
  });
});

describe('simulate: SQS queue policy and Lambda function policy', () => {
  const edgeDlqPolicy = (): NamedPolicy => ({
    name: 'edge DLQ policy',
    document: deadLetterQueuePolicy('edge-updater'),
  });
  const send = request('sqs:SendMessage', ARNS.edgeDlq);

  it('EventBridge may send to the DLQ for rules on the keyrot bus only', async () => {
    const rule = (bus: string) =>
      simulateServiceRequest(
        send,
        {
          service: 'events.amazonaws.com',
          sourceAccount: EDGE,
          sourceArn: `arn:aws:events:${REGION}:${EDGE}:rule/${bus}/keyrot-update-edge`,
        },
        edgeDlqPolicy(),
      );
    const allowed = await rule('keyrot');
    expect(allowed.deciding).toEqual(['resource policy edge DLQ policy statement KeyrotRulesOnly']);
    expect((await rule('default')).allowed).toBe(false);
  });

  it('the scheduler role sends to its own account’s DLQ by its identity policy', async () => {
    const result = await simulate(send, deployCheckRole(), { resourcePolicy: edgeDlqPolicy() });
    expect(result.allowed).toBe(true);
  });

  it('cross-account: a role allowed by its identity policy needs the queue policy too', async () => {
    const sender: PrincipalPolicies = {
      ...apiSchedulerRole(),
      inlinePolicies: [
        {
          name: 'send-anywhere',
          document: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: '*' }],
          },
        },
      ],
    };
    const denied = await simulate(send, sender, { resourcePolicy: edgeDlqPolicy() });
    expect(denied.deciding).toEqual(['resource policy edge DLQ policy: no statement allows it']);
    const grant: PolicyStatement = {
      Sid: 'ApiAccount',
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${API}:root` },
      Action: 'sqs:SendMessage',
      Resource: ARNS.edgeDlq,
    };
    const document = deadLetterQueuePolicy('edge-updater');
    const allowed = await simulate(send, sender, {
      resourcePolicy: {
        name: 'edge DLQ policy',
        document: { ...document, Statement: [...statements(document), grant] },
      },
    });
    expect(allowed.allowed).toBe(true);
  });

  const functionArn = `arn:aws:lambda:${REGION}:${API}:function:keyrot-key-reaper-prod-retireKeys`;
  const ruleArn = `arn:aws:events:${REGION}:${API}:rule/keyrot/keyrot-retire-keys`;
  /** What serverless's AWS::Lambda::Permission for an eventBridge event makes. */
  const functionPolicy = (statement: Partial<PolicyStatement> = {}): NamedPolicy => ({
    name: 'retireKeys function policy',
    document: {
      Version: '2012-10-17',
      Id: 'default',
      Statement: [
        {
          Sid: 'retireKeys-eventbridge',
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Action: 'lambda:InvokeFunction',
          Resource: functionArn,
          Condition: { ArnLike: { 'AWS:SourceArn': ruleArn } },
          ...statement,
        },
      ],
    },
  });
  const invoke = request('lambda:InvokeFunction', functionArn);

  it('EventBridge may invoke the function from its rule only', async () => {
    const from = (sourceArn: string) =>
      simulateServiceRequest(
        invoke,
        { service: 'events.amazonaws.com', sourceAccount: API, sourceArn },
        functionPolicy(),
      );
    expect((await from(ruleArn)).allowed).toBe(true);
    expect((await from(`${ruleArn}-other`)).allowed).toBe(false);
  });

  it('cross-account invoke: identity policy and function policy both needed', async () => {
    const invoker: PrincipalPolicies = {
      ...edgeForwardRole(),
      inlinePolicies: [
        {
          name: 'invoke',
          document: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: functionArn },
            ],
          },
        },
      ],
    };
    const granted: NamedPolicy = {
      name: 'retireKeys function policy',
      document: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'edge-account',
            Effect: 'Allow',
            Principal: { AWS: `arn:aws:iam::${EDGE}:root` },
            Action: 'lambda:InvokeFunction',
            Resource: functionArn,
          },
        ],
      },
    };
    expect((await simulate(invoke, invoker, { resourcePolicy: granted })).allowed).toBe(true);
    expect((await simulate(invoke, invoker, { resourcePolicy: functionPolicy() })).allowed).toBe(
      false,
    );
    expect((await simulate(invoke, invoker)).allowed).toBe(false);
  });
});

describe('simulateAssumeRole: trust policies', () => {
  it('Lambda may assume a function role; Scheduler may not', async () => {
    const trust = issuer.trustPolicy!;
    expect(
      (await simulateAssumeRole(trust, { service: 'lambda.amazonaws.com', sourceAccount: API }))
        .allowed,
    ).toBe(true);
    const scheduler = await simulateAssumeRole(trust, {
      service: 'scheduler.amazonaws.com',
      sourceAccount: API,
    });
    expect(scheduler.allowed).toBe(false);
    expect(scheduler.explain()).toContain('sts:AssumeRole');
  });

  it('the deployment-check role: Scheduler of the edge account only', async () => {
    const trust = deployCheckRole().trustPolicy;
    const as = (
      service: 'scheduler.amazonaws.com' | 'events.amazonaws.com',
      sourceAccount: string,
    ) => simulateAssumeRole(trust, { service, sourceAccount, roleArn: ARNS.deployCheckRole });
    const allowed = await as('scheduler.amazonaws.com', EDGE);
    expect(allowed.deciding).toEqual([
      `resource policy trust policy of ${ARNS.deployCheckRole} statement #1`,
    ]);
    const confusedDeputy = await as('scheduler.amazonaws.com', API);
    expect(confusedDeputy.allowed).toBe(false);
    expect(confusedDeputy.explain()).toContain(
      `StringEquals aws:SourceAccount [${EDGE}]: is ${API}`,
    );
    expect((await as('events.amazonaws.com', EDGE)).allowed).toBe(false);
  });

  it('the forward roles: EventBridge of their own account', async () => {
    const edge = edgeForwardRole().trustPolicy;
    const api = apiSchedulerRole().trustPolicy;
    expect(
      (await simulateAssumeRole(edge, { service: 'events.amazonaws.com', sourceAccount: EDGE }))
        .allowed,
    ).toBe(true);
    expect(
      (await simulateAssumeRole(edge, { service: 'events.amazonaws.com', sourceAccount: API }))
        .allowed,
    ).toBe(false);
    expect(
      (await simulateAssumeRole(api, { service: 'scheduler.amazonaws.com', sourceAccount: API }))
        .allowed,
    ).toBe(true);
  });
});
