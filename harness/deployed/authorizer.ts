/** TEMPORARY stub: allows everything, to exercise the runner before the IAM simulation lands. */
import type { AccountSession } from '../accounts';
import type { AuthorizedCall, CallAuthorizer, CallerPrincipal } from './aws-front';
import type { DeliveryPolicies, Verdict } from './eventbridge';

export interface HttpCall {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const allow: Verdict = { allowed: true };

export class IamAuthorizer implements CallAuthorizer, DeliveryPolicies {
  constructor(private readonly sessions: readonly AccountSession[]) {}
  refresh(): void {}
  async authorize(_caller: CallerPrincipal, call: HttpCall): Promise<AuthorizedCall> {
    const service =
      /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(call.headers.authorization ?? '')?.[1] ?? '';
    const target = call.headers['x-amz-target']?.split('.').pop();
    return { service, operation: target ?? `${call.method} ${call.path}` };
  }
  async canAssume(): Promise<Verdict> {
    return allow;
  }
  async roleMay(): Promise<Verdict> {
    return allow;
  }
  async serviceMay(): Promise<Verdict> {
    return allow;
  }
  async busAccepts(): Promise<Verdict> {
    return allow;
  }
}
