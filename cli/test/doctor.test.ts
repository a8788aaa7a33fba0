import { busPolicyMissing, keyPolicyGrants } from '../src/doctor/policies';

const API = '111111111111';
const EDGE = '222222222222';

/** The edge bus policy of services/edge-updater/resources/two-account.yml. */
const edgeBusPolicy = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'keyrot-api-account',
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${API}:root` },
      Action: 'events:PutEvents',
      Resource: `arn:aws:events:eu-west-1:${EDGE}:event-bus/keyrot`,
      Condition: {
        StringEquals: { 'events:source': 'keyrot', 'events:detail-type': ['KeyCreated'] },
      },
    },
  ],
});

describe('busPolicyMissing', () => {
  it("finds keyrot's grant", () => {
    expect(busPolicyMissing(edgeBusPolicy, API, 'keyrot', ['KeyCreated'])).toEqual([]);
  });

  it('names what is missing: another account, another detail type, no policy', () => {
    expect(busPolicyMissing(edgeBusPolicy, '333333333333', 'keyrot', ['KeyCreated'])).toEqual([
      'KeyCreated',
    ]);
    expect(busPolicyMissing(edgeBusPolicy, API, 'keyrot', ['KeyCreated', 'EdgeUpdated'])).toEqual([
      'EdgeUpdated',
    ]);
    expect(busPolicyMissing(edgeBusPolicy, API, 'other', ['KeyCreated'])).toEqual(['KeyCreated']);
    expect(busPolicyMissing(undefined, API, 'keyrot', ['KeyCreated'])).toEqual(['KeyCreated']);
  });

  it('a Deny statement grants nothing', () => {
    const deny = edgeBusPolicy.replace('"Allow"', '"Deny"');
    expect(busPolicyMissing(deny, API, 'keyrot', ['KeyCreated'])).toEqual(['KeyCreated']);
  });
});

describe('keyPolicyGrants', () => {
  const issuer = `arn:aws:iam::${API}:role/keyrot-key-issuer-prod-eu-west-1`;
  /** The issuer's statement of services/edge-updater/resources/edge-account.yml. */
  const policy = JSON.stringify({
    Statement: [
      {
        Sid: 'IssuerMayOnlyEncrypt',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${API}:root` },
        Action: 'kms:Encrypt',
        Resource: '*',
        Condition: {
          ArnEquals: { 'aws:PrincipalArn': issuer },
          Null: { 'kms:EncryptionContext:keyrot:rotationId': 'false' },
        },
      },
    ],
  });

  it("finds the role in keyrot's form (account principal, aws:PrincipalArn condition)", () => {
    expect(keyPolicyGrants(policy, 'kms:Encrypt', issuer)).toBe(true);
  });

  it('not for another action, another role, or a policy that names only the account', () => {
    expect(keyPolicyGrants(policy, 'kms:Decrypt', issuer)).toBe(false);
    expect(keyPolicyGrants(policy, 'kms:Encrypt', issuer.replace('prod', 'dev'))).toBe(false);
    const rootOnly = JSON.stringify({
      Statement: [
        { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${API}:root` }, Action: 'kms:*' },
      ],
    });
    expect(keyPolicyGrants(rootOnly, 'kms:Encrypt', issuer)).toBe(false);
  });

  it('the role as principal itself', () => {
    const direct = JSON.stringify({
      Statement: { Effect: 'Allow', Principal: { AWS: issuer }, Action: ['kms:Encrypt'] },
    });
    expect(keyPolicyGrants(direct, 'kms:Encrypt', issuer)).toBe(true);
  });
});
