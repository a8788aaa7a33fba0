import { GetDistributionConfigCommand } from '@aws-sdk/client-cloudfront';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import {
  ApiGatewayKeyStore,
  fingerprintOf,
  isManagedFor,
  KEY_TAGS,
  type KeyDescription,
  ResourceNotFoundError,
  rotationState,
  type Target,
  type TargetState,
} from '@keyrot/shared';
import type { CliContext } from '../context';
import { EXIT, oneLine, type ExitCode } from '../errors';
import { render, type Column } from '../output';
import { knownTargets, resolveTarget } from '../targets';

export interface VerifyOptions {
  /** One target; every known target when absent. */
  readonly target?: string;
}

export type CheckName =
  | 'edge-header'
  | 'header-key-live'
  | 'header-key-managed'
  | 'ledger-current-key'
  | 'stray-keys'
  | 'lock';

/**
 * One check of one target: `ok`, `drift`, `n/a` when it does not apply (yet, or because what
 * it compares could not be read), `unread` when the CLI could not read what it checks.
 */
export interface Finding {
  readonly target: string;
  readonly check: CheckName;
  readonly status: 'ok' | 'drift' | 'n/a' | 'unread';
  readonly detail: string;
  /** `unread` only: what CloudFront answered (e.g. `NoSuchDistribution`, `AccessDenied`). */
  readonly error?: string;
  /** `drift` only: the command that fixes it, when there is one (e.g. `keyrot adopt …`). */
  readonly fix?: string;
}

const STATUS_TEXT: Record<Finding['status'], string> = {
  ok: 'ok',
  drift: 'DRIFT',
  'n/a': 'n/a',
  unread: 'UNREAD',
};

const COLUMNS: readonly Column<Finding>[] = [
  { header: 'target', value: (f) => f.target },
  { header: 'check', value: (f) => f.check },
  { header: 'status', value: (f) => STATUS_TEXT[f.status] },
  { header: 'detail', value: (f) => f.detail },
];

/**
 * `keyrot verify`: drift checks, read-only. The header CloudFront sends (read in the edge
 * account: `--edge-profile`) must be a live, enabled key on the target's usage plan that
 * keyrot manages (tagged for the target; one keyrot did not create must be adopted, or its
 * rotation cannot retire it: the finding names `keyrot adopt`), and the key the ledger says
 * keyrot issued last; no keyrot-owned key of the target may be left over
 * (except the new key of a rotation in flight); the lock must not be stale. Exit 3 on drift.
 * A distribution it could not read (not found, access denied: usually the API account's
 * credentials, `--edge-profile` missing) is not drift: its checks are `unread`/`n/a`, and the
 * exit is 5 with a line naming the account whose credentials were used.
 */
export async function verify(ctx: CliContext, options: VerifyOptions): Promise<ExitCode> {
  const targets = options.target
    ? [(await resolveTarget(options.target, ctx.targetsFile, ctx.ledger, ctx.table)).target]
    : [...(await knownTargets(ctx.targetsFile, ctx.ledger)).values()].map((k) => k.target);
  const findings: Finding[] = [];
  for (const target of targets) findings.push(...(await verifyTarget(ctx, target)));
  ctx.print(render(ctx.output, COLUMNS, findings, findings));
  const unread = findings.filter((f) => f.status === 'unread');
  if (unread.length > 0) {
    const account = await edgeAccount(ctx);
    const whose =
      ctx.edgeCredentials === 'api'
        ? `account ${account} (the API account's: no --edge-profile given)`
        : `account ${account} (--edge-profile)`;
    const byTarget = new Map(targets.map((t) => [t.name, t]));
    for (const f of unread) {
      ctx.streams.err(
        `keyrot: could not read distribution ${byTarget.get(f.target)?.distributionId ?? '?'} (target ${f.target}) with the credentials of ${whose}: ${f.error ?? 'error'}; pass --edge-profile <a profile of the edge account>\n`,
      );
    }
    return EXIT.aws;
  }
  const drift = findings.filter((f) => f.status === 'drift');
  if (drift.length > 0) {
    ctx.streams.err(
      `keyrot: drift found: ${drift.map((f) => `${f.target} ${f.check}`).join(', ')}\n`,
    );
    for (const f of drift) {
      if (f.fix) ctx.streams.err(`keyrot: ${f.target} ${f.check}: fix with: ${f.fix}\n`);
    }
    return EXIT.drift;
  }
  return EXIT.ok;
}

async function verifyTarget(ctx: CliContext, target: Target): Promise<Finding[]> {
  const finding = (check: CheckName, status: Finding['status'], detail: string): Finding => ({
    target: target.name,
    check,
    status,
    detail,
  });
  const keys = new ApiGatewayKeyStore(ctx.apiGateway);
  let live: KeyDescription | undefined;
  const [edge, planKeys, named, state] = await Promise.all([
    readEdgeHeader(ctx, target),
    keys.listPlanKeys(target.usagePlanId).catch((error: unknown) => {
      if (error instanceof ResourceNotFoundError) return null;
      throw error;
    }),
    keys.listKeysNamed(target.apiKeyName),
    ctx.ledger.targetState(target.name),
  ]);
  const findings: Finding[] = [];
  const at = `distribution ${target.distributionId} origin ${target.originId}`;

  if (edge.kind === 'unread') {
    findings.push({
      ...finding(
        'edge-header',
        'unread',
        `could not read distribution ${target.distributionId}: ${edge.error}`,
      ),
      error: edge.error,
    });
  } else if (edge.kind !== 'header') {
    findings.push(finding('edge-header', 'drift', `${at}: ${edge.problem}`));
  } else {
    findings.push(
      finding(
        'edge-header',
        'ok',
        `${at} sends ${target.headerName} with fingerprint ${edge.fingerprint}`,
      ),
    );
  }
  const fingerprint = edge.kind === 'header' ? edge.fingerprint : null;

  // The header's key: on the plan, existing, enabled (API Gateway refuses a disabled key).
  const onPlan = planKeys?.find((k) => k.fingerprint === fingerprint);
  if (edge.kind === 'unread') {
    findings.push(finding('header-key-live', 'n/a', 'the edge could not be read'));
  } else if (planKeys === null) {
    findings.push(
      finding('header-key-live', 'drift', `usage plan ${target.usagePlanId} not found`),
    );
  } else if (fingerprint === null) {
    findings.push(finding('header-key-live', 'drift', 'no header, so no key to check'));
  } else if (!onPlan) {
    findings.push(
      finding(
        'header-key-live',
        'drift',
        `no key on usage plan ${target.usagePlanId} has fingerprint ${fingerprint}: API Gateway refuses what CloudFront sends`,
      ),
    );
  } else {
    live = await keys.describeKey(onPlan.id);
    findings.push(
      live?.enabled
        ? finding(
            'header-key-live',
            'ok',
            `key ${onPlan.id} is on usage plan ${target.usagePlanId} and enabled`,
          )
        : finding(
            'header-key-live',
            'drift',
            `key ${onPlan.id} matches the header but is ${live ? 'disabled' : 'deleted'}`,
          ),
    );
  }
  findings.push(
    live && onPlan
      ? managedFinding(target, live, state, finding)
      : finding('header-key-managed', 'n/a', 'no live key at the edge to check'),
  );

  const lock = await lockFinding(ctx, state, finding);
  // A rotation is in flight only while its lock is live: a stale lock protects nothing.
  const inFlight = lock.status === 'ok' ? state.lock?.rotationId : undefined;
  findings.push(
    edge.kind === 'unread'
      ? finding('ledger-current-key', 'n/a', 'the edge could not be read')
      : ledgerKeyFinding(state, fingerprint, inFlight, finding),
  );

  // Keys keyrot made for this target that are neither sent by the edge, nor the key the ledger
  // says is current, nor the new key of the rotation in flight.
  const strays = named.filter(
    (k) =>
      k.tags[KEY_TAGS.target] === target.name &&
      k.id !== onPlan?.id &&
      k.id !== state.currentKey?.key.id &&
      (inFlight === undefined || k.tags[KEY_TAGS.rotation] !== inFlight),
  );
  findings.push(
    strays.length > 0
      ? finding(
          'stray-keys',
          'drift',
          `keyrot-owned keys not in use: ${strays.map((k) => `${k.id} (rotation ${k.tags[KEY_TAGS.rotation] ?? '?'})`).join(', ')}`,
        )
      : finding('stray-keys', 'ok', `no stray keyrot key named ${target.apiKeyName}`),
  );

  findings.push(lock);
  return findings;
}

/**
 * Whether keyrot manages the key the edge sends, so the target's next rotation can retire it:
 * tagged for the target (keyrot created it, or the operator adopted it), and, under another
 * name than the target's, recorded as adopted (the issuer reads the ledger to find it). A key
 * of the target's name without keyrot's tags (the seed's hand-made key) is superseded by
 * name, but the least-privilege reaper may delete only keys tagged `keyrot:managed=true`.
 */
function managedFinding(
  target: Target,
  key: KeyDescription,
  state: TargetState,
  finding: (check: CheckName, status: Finding['status'], detail: string) => Finding,
): Finding {
  const owner = key.tags[KEY_TAGS.target];
  if (owner !== undefined && owner !== target.name) {
    return finding(
      'header-key-managed',
      'drift',
      `the edge sends key ${key.id}, tagged ${KEY_TAGS.target}=${owner}: another target's key; set the header back to this target's key`,
    );
  }
  const adopted = (state.adoptedKeys ?? []).some((a) => a.keyId === key.id);
  const managed = isManagedFor(target.name, key.tags);
  if (managed && (key.name === target.apiKeyName || adopted)) {
    return finding(
      'header-key-managed',
      'ok',
      adopted
        ? `key ${key.id} (named ${key.name}) was adopted for ${target.name}`
        : `key ${key.id} is keyrot's (tagged for ${target.name})`,
    );
  }
  const fix = `keyrot adopt --target ${target.name} --key-id ${key.id}`;
  const why =
    key.name !== target.apiKeyName
      ? `named ${key.name}, not ${target.apiKeyName}, and not adopted: every rotation fails with EdgeDriftError and never retires it`
      : `not tagged ${KEY_TAGS.managed}=true for ${target.name} (made by hand?): a rotation supersedes it, but may not delete it under least privilege`;
  return {
    ...finding(
      'header-key-managed',
      'drift',
      `the edge sends key ${key.id}, live on the plan, which keyrot does not manage: ${why}; fix: ${fix}`,
    ),
    fix,
  };
}

function ledgerKeyFinding(
  state: TargetState,
  fingerprint: string | null,
  inFlight: string | undefined,
  finding: (check: CheckName, status: Finding['status'], detail: string) => Finding,
): Finding {
  const current = state.currentKey;
  if (!current)
    return finding('ledger-current-key', 'n/a', 'no rotation of this target completed yet');
  if (current.key.fingerprint === fingerprint) {
    return finding(
      'ledger-current-key',
      'ok',
      `the edge sends key ${current.key.id}, issued by ${current.rotationId}`,
    );
  }
  if (inFlight) {
    return finding(
      'ledger-current-key',
      'ok',
      `rotation ${inFlight} in flight; last issued key ${current.key.id}`,
    );
  }
  return finding(
    'ledger-current-key',
    'drift',
    `the edge sends fingerprint ${fingerprint ?? 'none'}, not key ${current.key.id} (${current.key.fingerprint}) that ${current.rotationId} issued`,
  );
}

async function lockFinding(
  ctx: CliContext,
  state: TargetState,
  finding: (check: CheckName, status: Finding['status'], detail: string) => Finding,
): Promise<Finding> {
  const lock = state.lock;
  if (!lock) return finding('lock', 'ok', 'free');
  const now = ctx.clock.now().toISOString();
  if (lock.expiresAt < now) {
    return finding(
      'lock',
      'drift',
      `stale: held by ${lock.rotationId}, expired at ${lock.expiresAt}`,
    );
  }
  const steps = await ctx.ledger.timeline(lock.rotationId);
  const closed = rotationState(steps).outcome;
  if (closed) {
    return finding(
      'lock',
      'drift',
      `stale: held by ${lock.rotationId}, which ended ${closed.step} at ${closed.at}`,
    );
  }
  return finding(
    'lock',
    'ok',
    `held by ${lock.rotationId} (in flight, at ${steps[steps.length - 1]?.step ?? 'no step'}) until ${lock.expiresAt}`,
  );
}

export type EdgeHeader =
  | { kind: 'header'; fingerprint: string }
  | { kind: 'problem'; problem: string }
  | { kind: 'unread'; error: string };

/**
 * The fingerprint of the header the origin sends; the value itself is dropped at once. A
 * refusal of the read by CloudFront (no such distribution, access denied...) is `unread`:
 * with another account's credentials a distribution that exists is not found, so the CLI
 * cannot tell drift from a wrong profile. Unreachable endpoints still throw (exit 5).
 */
export async function readEdgeHeader(ctx: CliContext, target: Target): Promise<EdgeHeader> {
  let config;
  try {
    config = await ctx.cloudFront.send(
      new GetDistributionConfigCommand({ Id: target.distributionId }),
    );
  } catch (error) {
    if (isServiceRefusal(error)) {
      const { name, message } = error as Error;
      return { kind: 'unread', error: name || oneLine(message) };
    }
    throw error;
  }
  const origin = config.DistributionConfig?.Origins?.Items?.find((o) => o.Id === target.originId);
  if (!origin) return { kind: 'problem', problem: 'no such origin' };
  const header = origin.CustomHeaders?.Items?.find(
    (h) => h.HeaderName?.toLowerCase() === target.headerName.toLowerCase(),
  );
  if (header?.HeaderValue === undefined) {
    return { kind: 'problem', problem: `sends no ${target.headerName} header` };
  }
  return { kind: 'header', fingerprint: fingerprintOf(header.HeaderValue) };
}

/** An error CloudFront (or STS) answered with, as opposed to no answer at all. */
function isServiceRefusal(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata
    ?.httpStatusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/** The account whose credentials the edge reads used, or why it is unknown. */
export async function edgeAccount(ctx: CliContext): Promise<string> {
  try {
    return (await ctx.edgeSts.send(new GetCallerIdentityCommand({}))).Account ?? 'unknown';
  } catch (error) {
    return `unknown (sts:GetCallerIdentity failed: ${(error as Error).name})`;
  }
}
