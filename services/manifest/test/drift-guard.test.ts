/**
 * The drift guard in the stacks (services/manifest/stacks.ts): per target of the manifest,
 * `driftGuard` (default on) decides the CloudTrail rule's distributions, the EdgeDrift alarm
 * and what checkEdge and checkDrift may touch. A target with the guard off gets none of it
 * (the negative control of each check).
 */
import { parseTargetsManifest } from '../../../shared/src/manifest';
import {
  cloudTrailPattern,
  driftGuardTargets,
  functionStatements,
  manifestResources,
  type StackParams,
} from '../stacks';

const params: StackParams = {
  stage: 'prod',
  region: 'us-east-1',
  apiAccountId: '111111111111',
  edgeAccountId: '222222222222',
  busName: 'keyrot',
  ledgerTableName: 'keyrot-ledger',
  edgeKmsKeyArn: 'arn:aws:kms:us-east-1:222222222222:key/00000000-0000-0000-0000-000000000000',
  maxRotationMinutes: '120',
};

const target = (name: string, distributionId: string, usagePlanId: string) => ({
  name,
  apiKeyName: `${name}-key`,
  usagePlanId,
  distributionId,
  originId: 'api',
});
const manifest = parseTargetsManifest({
  targets: [
    target('shop', 'E1SHOP', 'planshop'),
    { ...target('blog', 'E2BLOG', 'planblog'), driftGuard: false },
  ],
});

describe('the drift guard from the manifest', () => {
  it('matches CloudTrail records of the guarded distributions only', () => {
    expect(cloudTrailPattern(manifest)).toEqual({
      source: ['aws.cloudfront'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['cloudfront.amazonaws.com'],
        eventName: ['UpdateDistribution'],
        requestParameters: { id: ['E1SHOP'] },
      },
    });
    const off = parseTargetsManifest({
      targets: [{ ...target('blog', 'E2BLOG', 'planblog'), driftGuard: false }],
    });
    expect(cloudTrailPattern(off)).toBeUndefined();
    expect(Object.keys(manifestResources('edge-updater', off, params).Resources)).not.toContain(
      'CheckEdgeCloudTrailRule',
    );
  });

  it('puts the rule on the default bus, targeting checkEdge', () => {
    const { Resources } = manifestResources('edge-updater', manifest, params);
    expect(Resources.CheckEdgeCloudTrailRule).toMatchObject({
      Type: 'AWS::Events::Rule',
      Properties: {
        EventBusName: 'default',
        Targets: [{ Arn: { 'Fn::GetAtt': ['CheckEdgeLambdaFunction', 'Arn'] } }],
      },
    });
    expect(Resources.CheckEdgeCloudTrailPermission).toMatchObject({
      Properties: { Principal: 'events.amazonaws.com' },
    });
  });

  it('alarms on EdgeDrift per guarded target, not for a target with the guard off', () => {
    const { Resources } = manifestResources('key-reaper', manifest, params);
    const drift = Object.entries(Resources).filter(([id]) => id.startsWith('EdgeDriftAlarm'));
    expect(drift.map(([id]) => id)).toEqual(['EdgeDriftAlarmShop']);
    expect(drift[0]![1]).toMatchObject({
      Properties: {
        MetricName: 'EdgeDrift',
        Dimensions: [
          { Name: 'service', Value: 'key-reaper' },
          { Name: 'target', Value: 'shop' },
        ],
      },
    });
  });

  it('hands checkEdge and checkDrift the guarded targets only', () => {
    expect(JSON.parse(driftGuardTargets(manifest))).toEqual([
      { ...target('shop', 'E1SHOP', 'planshop'), headerName: 'x-api-key' },
    ]);
  });

  it('lets checkEdge read, never write, the guarded distributions', () => {
    const statements = functionStatements('edge-updater', 'checkEdge', manifest, params);
    const actions = statements.flatMap((s) => s.Action);
    expect(actions).toEqual(['cloudfront:GetDistributionConfig', 'events:PutEvents']);
    expect(statements[0]!.Resource).toEqual([
      'arn:aws:cloudfront::222222222222:distribution/E1SHOP',
    ]);
  });

  it('lets checkDrift read the guarded plans’ keys and seal with the edge key only', () => {
    const statements = functionStatements('key-reaper', 'checkDrift', manifest, params);
    const byId = Object.fromEntries(statements.map((s) => [s.Sid, s]));
    expect(byId.ReadKeysOfThePlans!.Resource).toEqual([
      'arn:aws:apigateway:us-east-1::/usageplans/planshop/keys',
      'arn:aws:apigateway:us-east-1::/apikeys/*',
    ]);
    expect(byId.SealForTheEdgeAccount!.Resource).toEqual([params.edgeKmsKeyArn]);
    expect(statements.flatMap((s) => s.Action)).not.toContain('apigateway:DELETE');
  });
});
