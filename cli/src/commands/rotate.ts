import { randomUUID } from 'node:crypto';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import {
  adoptionCandidates,
  ApiGatewayKeyStore,
  supersededKeys,
  type KeyTags,
  rejectedRotationId,
  EVENT_SOURCE,
  KEY_TAGS,
  rotationIdFor,
  SCHEMA_VERSION,
  type Lock,
  type RotationReason,
  type StepRecord,
  type Target,
} from '@keyrot/shared';
import type { CliContext } from '../context';
import {
  AwsUnavailableError,
  EXIT,
  RotationNotCompletedError,
  WaitTimeoutError,
  type ExitCode,
} from '../errors';
import { render, stableJson } from '../output';
import { actorText, describeStep, errorText, outcomeOf, refusalText } from '../steps';
import { resolveTarget } from '../targets';
import { parsePositive } from '../time';

export interface RotateOptions {
  readonly target: string;
  readonly emergency?: boolean;
  readonly dryRun?: boolean;
  readonly wait?: boolean;
  /** Seconds `--wait` follows the rotation before giving up. */
  readonly timeout: string;
  /** Seconds between two reads of the ledger while waiting. */
  readonly poll: string;
}

/** The `detail` of the `KeyRotationRequested` the CLI puts (the structured form). */
export interface RotationRequestDetail {
  readonly version: typeof SCHEMA_VERSION;
  readonly rotationId: string;
  readonly target: Target;
  readonly reason: RotationReason;
  readonly requestedBy: string;
}

export const DETAIL_TYPE = 'KeyRotationRequested';

/**
 * `keyrot rotate`: puts a structured `KeyRotationRequested` (reason `manual`, or `emergency`)
 * on the API account's bus with a rotation id chosen here, so `--wait` can follow exactly
 * that rotation through the ledger. `--dry-run` reads (identity, lock, plan keys) and prints
 * the steps and API calls the rotation would make, and changes nothing.
 */
export async function rotate(ctx: CliContext, options: RotateOptions): Promise<ExitCode> {
  const timeoutS = parsePositive('--timeout', options.timeout, 24 * 3600);
  const pollS = parsePositive('--poll', options.poll, 600);
  const { target } = await resolveTarget(options.target, ctx.targetsFile, ctx.ledger, ctx.table);
  const reason: RotationReason = options.emergency ? 'emergency' : 'manual';
  const identity = await ctx.sts.send(new GetCallerIdentityCommand({}));
  const requestedBy = identity.Arn ?? `account ${identity.Account ?? 'unknown'}`;
  const detail: RotationRequestDetail = {
    version: SCHEMA_VERSION,
    rotationId: rotationIdFor(randomUUID(), ctx.clock.now()),
    target,
    reason,
    requestedBy,
  };
  if (options.dryRun) return dryRun(ctx, detail);

  const out = await ctx.events.send(
    new PutEventsCommand({
      Entries: [
        {
          EventBusName: ctx.bus,
          Source: EVENT_SOURCE,
          DetailType: DETAIL_TYPE,
          Detail: JSON.stringify(detail),
        },
      ],
    }),
  );
  const entry = out.Entries?.[0];
  if (out.FailedEntryCount || !entry?.EventId) {
    throw new AwsUnavailableError(
      `PutEvents on bus ${ctx.bus} refused the request: ${entry?.ErrorCode ?? 'no event id'} ${entry?.ErrorMessage ?? ''}`.trim(),
    );
  }
  const requested = { rotationId: detail.rotationId, eventId: entry.EventId, target: target.name };
  if (!options.wait) {
    if (ctx.output === 'table') {
      ctx.print(
        `rotation ${detail.rotationId} requested for ${target.name} (${reason}), event ${entry.EventId} on bus ${ctx.bus}\n` +
          `follow it: keyrot ledger show ${detail.rotationId}\n`,
      );
    } else {
      ctx.print(
        render(ctx.output, REQUESTED_COLUMNS, [{ ...requested, reason }], { ...requested, reason }),
      );
    }
    return EXIT.ok;
  }
  ctx.note(
    `rotation ${detail.rotationId} requested for ${target.name} (${reason}); following the ledger...`,
  );
  const steps = await follow(ctx, requested.rotationId, entry.EventId, timeoutS, pollS);
  if (ctx.output !== 'table') {
    ctx.print(
      ctx.output === 'json'
        ? `${JSON.stringify({ ...requested, reason, outcome: 'COMPLETED', steps }, null, 2)}\n`
        : render('csv', REQUESTED_COLUMNS, [{ ...requested, reason }]),
    );
  }
  return EXIT.ok;
}

const REQUESTED_COLUMNS = [
  { header: 'rotationId', value: (r: { rotationId: string }) => r.rotationId },
  { header: 'eventId', value: (r: { eventId: string }) => r.eventId },
  { header: 'target', value: (r: { target: string }) => r.target },
  { header: 'reason', value: (r: { reason: string }) => r.reason },
];

/**
 * Follows a rotation through the ledger (a consistent Query of its timeline every `pollS`),
 * printing each new step, until it completes (returns its steps) or ends otherwise (throws
 * {@link RotationNotCompletedError}); {@link WaitTimeoutError} after `timeoutS`.
 */
export async function follow(
  ctx: CliContext,
  rotationId: string,
  eventId: string,
  timeoutS: number,
  pollS: number,
): Promise<StepRecord[]> {
  const started = ctx.clock.now().getTime();
  const shown = new Set<string>();
  let lastStep = 'none yet';
  for (;;) {
    const steps = await ctx.ledger.timeline(rotationId);
    const origin = Date.parse(steps[0]?.at ?? new Date(started).toISOString());
    for (const step of steps) {
      if (shown.has(step.step)) continue;
      shown.add(step.step);
      lastStep = step.step;
      ctx.note(progressLine(step, origin));
    }
    const outcome = outcomeOf(steps);
    if (outcome?.step === 'COMPLETED') {
      const total = ((Date.parse(outcome.at) - origin) / 1000).toFixed(3);
      ctx.note(`rotation ${rotationId} completed in ${total} s`);
      return steps;
    }
    if (outcome) throw ended(rotationId, outcome);
    if (steps.length === 0) {
      const rejected = outcomeOf(await ctx.ledger.timeline(rejectedRotationId(eventId)));
      if (rejected) throw ended(rotationId, rejected);
    }
    if (ctx.clock.now().getTime() - started >= timeoutS * 1000) {
      throw new WaitTimeoutError(rotationId, timeoutS, lastStep);
    }
    await ctx.clock.sleep(pollS * 1000);
  }
}

function ended(rotationId: string, outcome: StepRecord): RotationNotCompletedError {
  const words = { FAILED: 'failed', REFUSED: 'was refused', REJECTED: 'was rejected' } as const;
  const how = words[outcome.step as keyof typeof words] ?? outcome.step;
  const detail =
    outcome.step === 'FAILED' || outcome.step === 'REJECTED'
      ? errorText(outcome)
      : outcome.step === 'REFUSED'
        ? refusalText(outcome)
        : describeStep(outcome);
  return new RotationNotCompletedError(rotationId, how, detail);
}

/** `  +0.412 s  KEY_CREATED     key-issuer@111111111111  new key ...` */
export function progressLine(step: StepRecord, origin: number): string {
  const offset = `+${((Date.parse(step.at) - origin) / 1000).toFixed(3)} s`;
  return `  ${offset.padStart(10)}  ${step.step.padEnd(14)}  ${actorText(step).padEnd(28)}  ${describeStep(step)}`;
}

/** One API call of a rotation, and who makes it. */
export interface PlannedCall {
  readonly by: string;
  readonly call: string;
  readonly detail: string;
}

/** What a dry run knows of the current state, read without changing anything. */
export interface PlanState {
  readonly lock?: Lock;
  /** Keys of the target's name on its plan now: the keys the rotation would supersede. */
  readonly superseded: readonly { id: string; fingerprint: string }[];
  readonly now: Date;
}

/** The calls a rotation of `detail` would make, in order (the services' code, as data). */
export function rotationPlan(
  detail: RotationRequestDetail,
  bus: string,
  state: PlanState,
): PlannedCall[] {
  const t = detail.target;
  const superseded = state.superseded.map((k) => `${k.id} (${k.fingerprint})`).join(', ') || 'none';
  const lock =
    state.lock && state.lock.expiresAt >= state.now.toISOString() ? state.lock : undefined;
  const calls: PlannedCall[] = [
    {
      by: 'keyrot CLI',
      call: 'events:PutEvents',
      detail: `${DETAIL_TYPE} on bus ${bus}: ${stableJson(detail, ['version', 'rotationId', 'reason'])}`,
    },
    {
      by: 'key-issuer',
      call: 'dynamodb:TransactWriteItems',
      detail: lock
        ? `lock of ${t.name} is held by ${lock.rotationId} until ${lock.expiresAt}: the request would be REFUSED and nothing else would happen`
        : `take the lock of ${t.name}, record REQUESTED`,
    },
  ];
  if (lock) return calls;
  calls.push(
    {
      by: 'key-issuer',
      call: 'apigateway:GetUsagePlanKeys',
      detail: `usage plan ${t.usagePlanId}: keys named ${t.apiKeyName} to supersede now: ${superseded}`,
    },
    {
      by: 'key-issuer',
      call: 'apigateway:CreateApiKey',
      detail: `name ${t.apiKeyName}, tags ${KEY_TAGS.managed}=true ${KEY_TAGS.target}=${t.name} ${KEY_TAGS.rotation}=${detail.rotationId}`,
    },
    {
      by: 'key-issuer',
      call: 'apigateway:CreateUsagePlanKey',
      detail: `add the new key to usage plan ${t.usagePlanId}`,
    },
    {
      by: 'key-issuer',
      call: 'HTTPS GET (if HEALTH_CHECK_URL is set)',
      detail: 'probe the stage with the new key until API Gateway accepts it',
    },
    {
      by: 'key-issuer',
      call: 'kms:Encrypt',
      detail: `seal the new key for the edge account (context: rotation ${detail.rotationId}, target ${t.name}, key id)`,
    },
    {
      by: 'key-issuer',
      call: 'events:PutEvents',
      detail: 'KeyCreated (new key id and fingerprint, sealed value)',
    },
    {
      by: 'edge-updater',
      call: 'kms:Decrypt',
      detail: 'open the sealed key, check its fingerprint',
    },
    {
      by: 'edge-updater',
      call: 'cloudfront:GetDistributionConfig',
      detail: `distribution ${t.distributionId} and its ETag`,
    },
    {
      by: 'edge-updater',
      call: 'cloudfront:UpdateDistribution',
      detail: `IfMatch the ETag; only header ${t.headerName} of origin ${t.originId} changes`,
    },
    {
      by: 'edge-updater',
      call: 'cloudfront:GetDistribution',
      detail: `until ${t.distributionId} is Deployed with the new key`,
    },
    { by: 'edge-updater', call: 'events:PutEvents', detail: 'EdgeUpdated' },
    {
      by: 'key-reaper',
      call: '(wait)',
      detail:
        detail.reason === 'emergency'
          ? 'emergency grace: at most 5 s after Deployed'
          : 'grace period after Deployed (GRACE_SECONDS)',
    },
    {
      by: 'key-reaper',
      call: 'apigateway:GetApiKeys',
      detail: `keys named ${t.apiKeyName}, to keep any another keyrot target owns`,
    },
    {
      by: 'key-reaper',
      call: 'apigateway:DeleteApiKey',
      detail: `the superseded keys: ${superseded}`,
    },
    {
      by: 'key-reaper',
      call: 'dynamodb:TransactWriteItems',
      detail: 'record COMPLETED and the current key, release the lock',
    },
    { by: 'key-reaper', call: 'events:PutEvents', detail: 'KeyRetired' },
  );
  return calls;
}

async function dryRun(ctx: CliContext, detail: RotationRequestDetail): Promise<ExitCode> {
  const t = detail.target;
  const keyStore = new ApiGatewayKeyStore(ctx.apiGateway);
  const [state, planKeys, named] = await Promise.all([
    ctx.ledger.targetState(t.name),
    keyStore.listPlanKeys(t.usagePlanId),
    keyStore.listKeysNamed(t.apiKeyName),
  ]);
  // The keys the issuer would supersede (the shared rule: the target's name, and keys adopted
  // for it), of those that still exist.
  const adopted = adoptionCandidates(
    t,
    planKeys,
    (state.adoptedKeys ?? []).map((a) => a.keyId),
  );
  const tags = new Map<string, KeyTags>();
  for (const id of adopted) {
    const key = await keyStore.describeKey(id);
    if (key) tags.set(id, key.tags);
  }
  const existing = new Set([...named.map((k) => k.id), ...tags.keys()]);
  const superseded = supersededKeys(t, planKeys, tags).filter((k) => existing.has(k.id));
  const calls = rotationPlan(detail, ctx.bus, {
    ...(state.lock && { lock: state.lock }),
    superseded,
    now: ctx.clock.now(),
  });
  const columns = [
    { header: '#', value: (c: PlannedCall & { n: number }) => c.n },
    { header: 'by', value: (c: PlannedCall) => c.by },
    { header: 'API call', value: (c: PlannedCall) => c.call },
    { header: 'what', value: (c: PlannedCall) => c.detail },
  ];
  const rows = calls.map((c, i) => ({ ...c, n: i + 1 }));
  if (ctx.output === 'table') {
    ctx.print(
      `dry run: rotating ${t.name} (${detail.reason}) would make these calls; nothing was changed.\n`,
    );
  }
  ctx.print(
    render(ctx.output, columns, rows, {
      dryRun: true,
      request: detail,
      ...(state.lock && { lock: state.lock }),
      superseded,
      calls,
    }),
  );
  return EXIT.ok;
}
