/**
 * Local "accounts": moto picks the account from the access key, and STS AssumeRole into a role
 * ARN of another account returns credentials acting in that account (the role need not exist).
 * Test infrastructure only.
 */
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';

/** Credentials and endpoint acting in one local account. */
export interface AccountSession {
  readonly accountId: string;
  readonly region: string;
  readonly endpoint: string;
  readonly credentials: AwsCredentialIdentity;
}

/** The SDK client configuration for a session. */
export interface LocalClientConfig {
  region: string;
  endpoint: string;
  credentials: AwsCredentialIdentity;
}

export const DEFAULT_REGION = 'us-east-1';
/** The role assumed in every local account; moto does not require it to exist. */
export const LOCAL_ROLE_NAME = 'keyrot-local';

/** Static base credentials: unknown to moto, so they act in its default account. */
const BASE_CREDENTIALS: AwsCredentialIdentity = {
  accessKeyId: 'testing',
  secretAccessKey: 'testing',
};

/** Assumes `keyrot-local` in `accountId` on the moto endpoint and checks the resulting identity. */
export async function openAccountSession(
  endpoint: string,
  accountId: string,
  region: string = DEFAULT_REGION,
): Promise<AccountSession> {
  const credentials = await assumeLocalRole(endpoint, region, accountId);
  const session: AccountSession = { accountId, region, endpoint, credentials };
  await verifyAccount(session);
  return session;
}

/** `{ region, endpoint, credentials }` for any SDK v3 client constructor. */
export function clientConfig(session: AccountSession): LocalClientConfig {
  return {
    region: session.region,
    endpoint: session.endpoint,
    credentials: session.credentials,
  };
}

/**
 * STS AssumeRole with the static base credentials; returns the temporary credentials. Their
 * expiration is left out on purpose: moto never expires them, and long test runs reuse them.
 */
async function assumeLocalRole(
  endpoint: string,
  region: string,
  accountId: string,
): Promise<AwsCredentialIdentity> {
  const sts = new STSClient({ region, endpoint, credentials: BASE_CREDENTIALS });
  try {
    const { Credentials: c } = await sts.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${accountId}:role/${LOCAL_ROLE_NAME}`,
        RoleSessionName: `keyrot-local-${accountId}`,
      }),
    );
    if (!c?.AccessKeyId || !c.SecretAccessKey) {
      throw new Error(`AssumeRole into account ${accountId} returned no credentials`);
    }
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
    };
  } finally {
    sts.destroy();
  }
}

/** Throws unless GetCallerIdentity with the session's credentials names the expected account. */
async function verifyAccount(session: AccountSession): Promise<void> {
  const sts = new STSClient(clientConfig(session));
  try {
    const { Account } = await sts.send(new GetCallerIdentityCommand({}));
    if (Account !== session.accountId) {
      throw new Error(
        `local session for account ${session.accountId} acts in account ${String(Account)}`,
      );
    }
  } finally {
    sts.destroy();
  }
}
