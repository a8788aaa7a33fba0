import { fromIni } from '@aws-sdk/credential-providers';
import { UsageError } from './errors';

/** Where and as whom the CLI calls AWS: the global options. */
export interface AwsTarget {
  /** An endpoint URL (a local emulator, a VPC endpoint); AWS's own otherwise. */
  readonly endpoint?: string;
  readonly region?: string;
  /** A profile of the shared config and credentials files. */
  readonly profile?: string;
}

/** What every SDK v3 client of the CLI is built from. */
export interface CliClientConfig {
  readonly region?: string;
  readonly endpoint?: string;
  readonly credentials?: ReturnType<typeof fromIni>;
  readonly profile?: string;
  readonly maxAttempts: number;
  readonly requestHandler: { readonly connectionTimeout: number; readonly requestTimeout: number };
}

/** The endpoint as given, checked: an error names the option. */
export function checkEndpoint(option: string, endpoint: string | undefined): string | undefined {
  if (endpoint === undefined || endpoint === '') return undefined;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new UsageError(option, `"${endpoint}" is not a URL (e.g. http://127.0.0.1:5000)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(option, `"${endpoint}" must be an http(s) URL`);
  }
  return endpoint;
}

/**
 * SDK client configuration for one account. A profile's credentials are read from it alone
 * (`fromIni`), so credentials of the other account in the environment never mix in. Without a
 * profile the SDK's default chain applies (environment, SSO, instance role...). Few, short
 * retries: an operator waits for the answer.
 */
export function clientConfig(target: AwsTarget, region = target.region): CliClientConfig {
  return {
    ...(region && { region }),
    ...(target.endpoint && { endpoint: target.endpoint }),
    ...(target.profile && {
      profile: target.profile,
      credentials: fromIni({ profile: target.profile }),
    }),
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 },
  };
}

/** CloudFront's API lives in us-east-1 whatever the stack's region. */
export const CLOUDFRONT_REGION = 'us-east-1';
