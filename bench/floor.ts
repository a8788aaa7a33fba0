/**
 * The scale benchmark's `idealSeconds`: the earliest moment the last rate-limited call of a
 * fleet rotation can be sent, under the services' quotas and keyrot's configured share of
 * them, from the calls each function measurably made per rotation (BENCHMARKS.md, figure 4).
 *
 * A token bucket of rate r and burst B lets the first B calls through at once and then one
 * every 1/r, so M calls need (M − B)/r seconds. Two kinds of bucket bound a fleet of N:
 * - keyrot's own pacing, per execution environment: a function f with e_f environments
 *   (its reserved concurrency) runs ⌈N / e_f⌉ rotations in each, and each environment paces
 *   a quota q at `shareOf` (q's rate × the function's budget share / e_f, burst likewise,
 *   at least 1). With c_{f,q} calls per rotation counted against q:
 *     (⌈N / e_f⌉ × c_{f,q} − burst_{f,q}) / rate_{f,q}
 * - the service's quota per account, over every function's calls (what an unpaced keyrot
 *   is held to): (N × Σ_f c_{f,q} − burst_q) / rate_q.
 * idealSeconds is the largest of these (0 if every call fits in the bursts). It leaves out
 * the time of the calls themselves and the pipeline's last steps after the last paced call.
 */
import type { CallQuota } from '../shared/src/aws/pacing';
import type { ServiceQuota } from '../harness/quota-sim';

/** What one function did and how it was paced. */
export interface FunctionLoad {
  /** `service/function`, e.g. `key-issuer/issueKey`. */
  readonly name: string;
  /** Calls per rotation by `Service.Operation` (e.g. `APIGateway.CreateApiKey`), measured. */
  readonly callsPerRotation: Readonly<Record<string, number>>;
  /** Environments it may have at once (reserved concurrency); `undefined`: not paced. */
  readonly environments?: number;
  /** Each environment's pacing (`shareOf` of keyrot's quotas), when paced. */
  readonly pacing?: Readonly<Record<string, CallQuota>>;
}

export interface Floor {
  readonly seconds: number;
  /** The bucket that sets it: `function quota` for keyrot's pacing, `account quota` else. */
  readonly boundBy: string;
}

const matchesPacing = (quota: CallQuota, call: string) => {
  const [service, operation] = call.split('.') as [string, string];
  return (
    quota.service === `${service}Client` &&
    (quota.commands === 'all' || quota.commands.includes(`${operation}Command`))
  );
};

const matchesService = (quota: ServiceQuota, call: string) => {
  const [service, operation] = call.split('.') as [string, string];
  return (
    quota.service === service &&
    (quota.operations === 'all' || quota.operations.includes(operation))
  );
};

const sum = (calls: Readonly<Record<string, number>>, matches: (call: string) => boolean) =>
  Object.entries(calls).reduce((total, [call, n]) => total + (matches(call) ? n : 0), 0);

const bucketSeconds = (calls: number, rate: { perSecond: number; burst: number }) =>
  Math.max(0, calls - rate.burst) / rate.perSecond;

export function quotaFloor(
  targets: number,
  functions: readonly FunctionLoad[],
  serviceQuotas: Readonly<Record<string, ServiceQuota>>,
): Floor {
  let floor: Floor = { seconds: 0, boundBy: 'none (every call fits in the bursts)' };
  const consider = (seconds: number, boundBy: string) => {
    if (seconds > floor.seconds) floor = { seconds, boundBy };
  };
  for (const f of functions) {
    if (!f.pacing || f.environments === undefined) continue;
    const used = Math.min(targets, f.environments);
    const perEnvironment = Math.ceil(targets / used);
    for (const [id, quota] of Object.entries(f.pacing)) {
      const calls = sum(f.callsPerRotation, (call) => matchesPacing(quota, call));
      if (calls > 0) consider(bucketSeconds(perEnvironment * calls, quota), `${f.name} ${id}`);
    }
  }
  for (const [id, quota] of Object.entries(serviceQuotas)) {
    const calls = functions.reduce(
      (total, f) => total + sum(f.callsPerRotation, (call) => matchesService(quota, call)),
      0,
    );
    if (calls > 0) consider(bucketSeconds(targets * calls, quota), `account ${id}`);
  }
  return floor;
}
