/**
 * harness/deployed/example.ts reads which secret the example's `x-api-key` header references
 * from the deployed template: by the example's own secret (`${InitialKeySecret}` → its ARN),
 * by name, and through `Fn::If` on a first-deploy condition.
 */
import { headerSecretIdOf } from '../deployed/example';

const ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:initial-AbCdEf';

function template(headerValue: unknown, firstDeploy: string) {
  return {
    Conditions: { FirstDeploy: { 'Fn::Equals': [firstDeploy, 'true'] } },
    Resources: {
      Distribution: {
        Type: 'AWS::CloudFront::Distribution',
        Properties: {
          DistributionConfig: {
            Origins: [
              {
                Id: 'api-gateway-origin',
                OriginCustomHeaders: [{ HeaderName: 'x-api-key', HeaderValue: headerValue }],
              },
            ],
          },
        },
      },
    },
  };
}

const own = { 'Fn::Sub': '{{resolve:secretsmanager:${InitialKeySecret}:SecretString}}' };
const byName =
  '{{resolve:secretsmanager:keyrot/prod/kloudpepper-api-key/current-key:SecretString}}';
const chosen = { 'Fn::If': ['FirstDeploy', own, byName] };
const refs = { InitialKeySecret: ARN };

describe('headerSecretIdOf', () => {
  it('reads an ARN whole, with its colons', () => {
    expect(headerSecretIdOf(template(own, 'false'), 'api-gateway-origin', refs)).toBe(ARN);
  });

  it('reads a name', () => {
    expect(headerSecretIdOf(template(byName, 'false'), 'api-gateway-origin', refs)).toBe(
      'keyrot/prod/kloudpepper-api-key/current-key',
    );
  });

  it('follows Fn::If as the condition holds, either way', () => {
    expect(headerSecretIdOf(template(chosen, 'true'), 'api-gateway-origin', refs)).toBe(ARN);
    expect(headerSecretIdOf(template(chosen, 'false'), 'api-gateway-origin', refs)).toBe(
      'keyrot/prod/kloudpepper-api-key/current-key',
    );
  });

  it('finds nothing for a literal header or another origin', () => {
    expect(
      headerSecretIdOf(template('plain', 'false'), 'api-gateway-origin', refs),
    ).toBeUndefined();
    expect(headerSecretIdOf(template(own, 'false'), 'other-origin', refs)).toBeUndefined();
  });
});
