import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { CliContext } from './context';

export type Side = 'api' | 'edge';

const accounts = new WeakMap<CliContext, Partial<Record<Side, Promise<string>>>>();

/** The account of one side's credentials (sts:GetCallerIdentity, once per side and context). */
export function accountOf(ctx: CliContext, side: Side): Promise<string> {
  const known = accounts.get(ctx) ?? {};
  accounts.set(ctx, known);
  known[side] ??= ctx
    .stsOf(side)
    .send(new GetCallerIdentityCommand({}))
    .then((identity) => identity.Account ?? 'unknown');
  return known[side];
}
