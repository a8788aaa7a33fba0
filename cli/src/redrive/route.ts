/**
 * Where a dead-lettered keyrot event goes back: the bus, and the account to put it as. The
 * rules that consume keyrot's events all match on `account` (services/*\/serverless.yml and
 * the forwarding rules of services/*\/resources/two-account.yml), and an event put on a bus
 * carries the putting account in `account`. So an event goes back on the bus of the account
 * that first emitted it, put as that account, and the forwarding rule carries it on.
 */
import type { Side } from '../identity';

export type { Side };

export type Route =
  { readonly side: Side; readonly why: string } | { readonly side: null; readonly why: string };

/**
 * The route of one event by its detail type (and, for `RotationFailed`, the account that
 * emitted it). `accounts` are the two accounts' ids; in single-account mode they are equal
 * and every event goes on the one bus.
 */
export function redriveRoute(
  detailType: string,
  account: string | undefined,
  accounts: { readonly api: string; readonly edge: string },
): Route {
  switch (detailType) {
    case 'KeyRotationRequested':
      return {
        side: 'api',
        why: "the issuer's rule matches it on the API bus, from the API account",
      };
    case 'KeyCreated':
      return {
        side: 'api',
        why: 'keyrot-forward-to-edge matches it on the API bus, from the API account; put on the edge bus by the edge account it matches no rule',
      };
    case 'EdgeUpdated':
      return {
        side: 'edge',
        why: 'keyrot-forward-to-api matches it on the edge bus, from the edge account, and takes it to the reaper',
      };
    case 'RotationFailed':
      if (account === accounts.edge) {
        return {
          side: 'edge',
          why: 'keyrot-forward-to-api matches it on the edge bus, from the edge account, and takes it to the reaper',
        };
      }
      if (account === accounts.api) {
        return {
          side: null,
          why: "a RotationFailed of the API account has no subscriber (the reaper takes the edge account's only)",
        };
      }
      return {
        side: null,
        why: `it came from account ${account ?? 'unknown'}, not the edge account of the credentials given (${accounts.edge}): pass --edge-profile`,
      };
    case 'EdgeDeploymentCheck':
      return {
        side: 'edge',
        why: "the edge-updater's awaitDeployment rule matches it on the edge bus, from the edge account",
      };
    case 'KeyRetired':
      return { side: null, why: 'no function subscribes to KeyRetired: nothing to redrive' };
    default:
      return { side: null, why: `"${detailType}" is not a keyrot event` };
  }
}
