/**
 * IAM simulation of the drift guard's two roles, as `serverless package` builds them from the
 * repository's manifest (services/manifest/stacks.ts): every call checkEdge and checkDrift make
 * is allowed (0 denials), and what they must never do is denied (must-deny probes), among
 * them checkEdge writing a distribution.
 */
import { rotationContext } from '@keyrot/shared';
import type { IamRequest } from '../../iam/describe-call';
import { simulate, type NamedPolicy } from '../../iam/simulate';
import { API, ARNS, EDGE, edgeKeyPolicy, functionRole, REGION } from './keyrot-policies';

const checkEdge = functionRole('edge-updater', 'checkEdge');
const checkDrift = functionRole('key-reaper', 'checkDrift');
const DRIFT = 'drift_20261203T000000Z_abcdef01';
const CONTEXT = rotationContext(DRIFT, 'kloudpepper-api-key', 'k3y1d');
const keyPolicy: NamedPolicy = { name: 'EdgeKey key policy', document: edgeKeyPolicy() };

const request = (
  action: string,
  resource: string,
  context: IamRequest['context'] = {},
): IamRequest => ({ action, resource, context: { 'aws:RequestedRegion': REGION, ...context } });
const apigw = (path: string) => `arn:aws:apigateway:${REGION}::${path}`;
const sealContext = {
  'kms:CallerAccount': API,
  ...Object.fromEntries(Object.entries(CONTEXT).map(([k, v]) => [`kms:EncryptionContext:${k}`, v])),
  'kms:EncryptionContextKeys': Object.keys(CONTEXT),
};

describe('checkEdge (edge account)', () => {
  it.each([
    ['GetDistributionConfig', request('cloudfront:GetDistributionConfig', ARNS.distribution)],
    ['PutEvents EdgeObserved', request('events:PutEvents', ARNS.edgeBus)],
  ])('may %s', async (_, call) => {
    expect((await simulate(call, checkEdge)).allowed).toBe(true);
  });

  it.each([
    ['update the distribution', request('cloudfront:UpdateDistribution', ARNS.distribution)],
    [
      'read a distribution of no target',
      request(
        'cloudfront:GetDistributionConfig',
        `arn:aws:cloudfront::${EDGE}:distribution/EOTHER`,
      ),
    ],
    ['decrypt a sealed key', request('kms:Decrypt', ARNS.edgeKey, sealContext)],
    [
      'schedule anything',
      request(
        'scheduler:CreateSchedule',
        `arn:aws:scheduler:${REGION}:${EDGE}:schedule/keyrot-deploy-checks-prod/x`,
      ),
    ],
  ])('must not %s', async (_, call) => {
    expect((await simulate(call, checkEdge)).allowed).toBe(false);
  });
});

describe('checkDrift (API account)', () => {
  it.each([
    ['list the plan’s keys', request('apigateway:GET', apigw('/usageplans/0aj0l3/keys'))],
    ['read a key (GetApiKey)', request('apigateway:GET', apigw('/apikeys/k3y1d'))],
    ['read the history', request('dynamodb:Query', `${ARNS.table}/index/GSI1`)],
    ['read a timeline', request('dynamodb:Query', ARNS.table)],
    ['read the lock', request('dynamodb:GetItem', ARNS.table)],
    ['record DRIFT', request('dynamodb:PutItem', ARNS.table)],
    ['put EdgeHealRequested', request('events:PutEvents', ARNS.apiBus)],
  ])('may %s', async (_, call) => {
    expect((await simulate(call, checkDrift)).allowed).toBe(true);
  });

  it('may seal a heal’s key with keyrot’s context: identity and key policy both allow', async () => {
    const result = await simulate(request('kms:Encrypt', ARNS.edgeKey, sealContext), checkDrift, {
      resourcePolicy: keyPolicy,
    });
    expect(result.allowed).toBe(true);
  });

  it.each([
    [
      'seal without keyrot’s context',
      request('kms:Encrypt', ARNS.edgeKey, { 'kms:CallerAccount': API }),
    ],
    ['delete a key', request('apigateway:DELETE', apigw('/apikeys/k3y1d'))],
    ['list another plan’s keys', request('apigateway:GET', apigw('/usageplans/other/keys'))],
    ['delete a ledger item', request('dynamodb:DeleteItem', ARNS.table)],
    ['decrypt', request('kms:Decrypt', ARNS.edgeKey, sealContext)],
  ])('must not %s', async (_, call) => {
    const result = await simulate(call, checkDrift, { resourcePolicy: keyPolicy });
    expect(result.allowed).toBe(false);
  });
});
