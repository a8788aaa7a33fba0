import {
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import {
  loadRolePolicies,
  parsePolicyDocument,
  simulate,
  type PolicyDocument,
} from '../../iam/simulate';

const iam = mockClient(IAMClient);
afterEach(() => iam.reset());

const A = '111111111111';
const ROLE_ARN = `arn:aws:iam::${A}:role/service-role/keyrot-key-reaper-prod-us-east-1-lambdaRole`;
const MANAGED = `arn:aws:iam::${A}:policy/ledger-writer`;
const BOUNDARY = `arn:aws:iam::${A}:policy/keyrot-boundary`;
/** How IAM returns policy documents: URL-encoded JSON (RFC 3986). */
const encoded = (document: PolicyDocument) => encodeURIComponent(JSON.stringify(document));

const allow = (sid: string, action: string, resource = '*'): PolicyDocument => ({
  Version: '2012-10-17',
  Statement: [{ Sid: sid, Effect: 'Allow', Action: action, Resource: resource }],
});
const TRUST: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
  ],
};

function mockRole() {
  iam.on(GetRoleCommand, { RoleName: 'keyrot-key-reaper-prod-us-east-1-lambdaRole' }).resolves({
    Role: {
      RoleName: 'keyrot-key-reaper-prod-us-east-1-lambdaRole',
      RoleId: 'AROAEXAMPLE',
      Path: '/service-role/',
      Arn: ROLE_ARN,
      CreateDate: new Date(0),
      AssumeRolePolicyDocument: encoded(TRUST),
      PermissionsBoundary: {
        PermissionsBoundaryType: 'PermissionsBoundaryPolicy',
        PermissionsBoundaryArn: BOUNDARY,
      },
      Tags: [{ Key: 'team', Value: 'keyrot' }],
    },
  });
  iam
    .on(ListRolePoliciesCommand)
    .resolvesOnce({ PolicyNames: ['reaper-apigateway'], IsTruncated: true, Marker: 'next' })
    .resolvesOnce({ PolicyNames: ['reaper-events'], IsTruncated: false });
  iam.on(GetRolePolicyCommand, { PolicyName: 'reaper-apigateway' }).resolves({
    RoleName: 'r',
    PolicyName: 'reaper-apigateway',
    PolicyDocument: encoded(allow('Keys', 'apigateway:DELETE')),
  });
  // moto may hand back plain JSON: accepted as well.
  iam.on(GetRolePolicyCommand, { PolicyName: 'reaper-events' }).resolves({
    RoleName: 'r',
    PolicyName: 'reaper-events',
    PolicyDocument: JSON.stringify(allow('Events', 'events:PutEvents')),
  });
  iam
    .on(ListAttachedRolePoliciesCommand)
    .resolves({ AttachedPolicies: [{ PolicyName: 'ledger-writer', PolicyArn: MANAGED }] });
  iam.on(GetPolicyCommand, { PolicyArn: MANAGED }).resolves({
    Policy: { Arn: MANAGED, DefaultVersionId: 'v3' },
  });
  iam.on(GetPolicyVersionCommand, { PolicyArn: MANAGED, VersionId: 'v3' }).resolves({
    PolicyVersion: { VersionId: 'v3', Document: encoded(allow('Ledger', 'dynamodb:PutItem')) },
  });
  iam.on(GetPolicyCommand, { PolicyArn: BOUNDARY }).resolves({
    Policy: { Arn: BOUNDARY, DefaultVersionId: 'v1' },
  });
  iam.on(GetPolicyVersionCommand, { PolicyArn: BOUNDARY, VersionId: 'v1' }).resolves({
    PolicyVersion: {
      VersionId: 'v1',
      Document: encoded({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: ['apigateway:*', 'dynamodb:*', 'events:*'], Resource: '*' },
        ],
      }),
    },
  });
}

describe('loadRolePolicies', () => {
  it('reads trust, inline (every page), managed (default version) and boundary, decoded', async () => {
    mockRole();
    const loaded = await loadRolePolicies(new IAMClient({ region: 'us-east-1' }), ROLE_ARN);
    expect(loaded).toEqual({
      roleArn: ROLE_ARN,
      trustPolicy: TRUST,
      inlinePolicies: [
        { name: 'reaper-apigateway', document: allow('Keys', 'apigateway:DELETE') },
        { name: 'reaper-events', document: allow('Events', 'events:PutEvents') },
      ],
      managedPolicies: [{ name: MANAGED, document: allow('Ledger', 'dynamodb:PutItem') }],
      permissionsBoundary: {
        name: BOUNDARY,
        document: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: ['apigateway:*', 'dynamodb:*', 'events:*'],
              Resource: '*',
            },
          ],
        },
      },
      tags: { team: 'keyrot' },
    });
    expect(iam.commandCalls(ListRolePoliciesCommand)[1]?.args[0].input).toMatchObject({
      Marker: 'next',
    });
  });

  it('what it loads is what simulate evaluates: managed grants, boundary limits', async () => {
    mockRole();
    const loaded = await loadRolePolicies(new IAMClient({ region: 'us-east-1' }), ROLE_ARN);
    const put = await simulate(
      {
        action: 'dynamodb:PutItem',
        resource: `arn:aws:dynamodb:us-east-1:${A}:table/keyrot-ledger`,
        context: {},
      },
      loaded,
    );
    expect(put.deciding).toEqual([
      `identity policy ${MANAGED} statement Ledger`,
      `permissions boundary ${BOUNDARY} statement #1`,
    ]);
    const outsideBoundary = await simulate(
      { action: 'kms:Decrypt', resource: `arn:aws:kms:us-east-1:${A}:key/k`, context: {} },
      {
        ...loaded,
        inlinePolicies: [{ name: 'kms', document: allow('Kms', 'kms:Decrypt') }],
      },
      {
        resourcePolicy: {
          name: 'key policy',
          document: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Principal: { AWS: `arn:aws:iam::${A}:root` },
                Action: 'kms:*',
                Resource: '*',
              },
            ],
          },
        },
      },
    );
    expect(outsideBoundary.allowed).toBe(false);
    expect(outsideBoundary.deciding).toEqual(['permissions boundary: no statement allows it']);
  });
});

describe('parsePolicyDocument', () => {
  it('decodes IAM’s URL-encoded documents and accepts plain JSON', () => {
    const document = allow('A', 's3:GetObject', 'arn:aws:s3:::b/a key with spaces & 100%');
    expect(parsePolicyDocument(encoded(document))).toEqual(document);
    expect(parsePolicyDocument(JSON.stringify(document))).toEqual(document);
  });

  it('refuses what is not a policy document', () => {
    expect(() => parsePolicyDocument('%E0%A4%A')).toThrow(/not a policy document/);
    expect(() => parsePolicyDocument('{"Version":"2012-10-17"}')).toThrow(/no Statement/);
  });
});
