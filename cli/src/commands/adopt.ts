import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import {
  adoptionId,
  ApiGatewayKeyStore,
  currentKeySecretName,
  currentKeyVersionId,
  ResourceNotFoundError,
  SecretsManagerCurrentKey,
  summarizeError,
  DynamoDbLedger,
  isManagedFor,
  KEY_TAGS,
  stepsOf,
  type KeyDescription,
  type KeyRef,
  type Target,
} from '@keyrot/shared';
import type { CliContext } from '../context';
import { AwsUnavailableError, EXIT, UsageError, type ExitCode } from '../errors';
import { render, type Column } from '../output';
import { resolveTarget } from '../targets';
import { edgeAccount, readEdgeHeader } from './verify';

export interface AdoptOptions {
  readonly target: string;
  readonly keyId: string;
  /** Tag and record; without it, only check and say what would be done. */
  readonly yes?: boolean;
  /** Adopt although the edge does not send the key. */
  readonly force?: boolean;
  /** keyrot's stage, naming the target's current-key reference (default `prod`). */
  readonly stage?: string;
}

/** `keyrot adopt` refused: the key cannot (or may not) be handed to the target. Exit 2. */
export class AdoptRefusedError extends UsageError {
  override readonly name: string = 'AdoptRefusedError';
}

/** What adopt found and did, one line per check. */
interface Check {
  readonly check: string;
  readonly detail: string;
}

const COLUMNS: readonly Column<Check>[] = [
  { header: 'check', value: (c) => c.check },
  { header: 'detail', value: (c) => c.detail },
];

export type AdoptStatus = 'adopted' | 'already-adopted' | 'keyrot-created' | 'would-adopt';

/** adopt's result, as `-o json` prints it. */
export interface AdoptOutcome {
  readonly status: AdoptStatus;
  readonly target: string;
  readonly key: KeyRef;
  readonly keyName: string;
  /** Whether the edge sends the key (not read when there was nothing to adopt). */
  readonly atEdge?: boolean;
  readonly adoptionId?: string;
}

/**
 * `keyrot adopt --target T --key-id K`: the operator's audited hand-over of an existing key
 * keyrot did not create (the seed's hand-made key, a key under another name than the target's
 * `apiKeyName`), so the target's next rotation supersedes and retires it. Checks, in the API
 * account, that K exists, is enabled, is on the target's usage plan and is not tagged for
 * another target, and, in the edge account (`--edge-profile`, as verify), whether it is the
 * key the edge sends: a key the edge does not send is refused unless `--force` (it may be
 * another client's, and the next rotation would delete it). With `--yes` it then tags K
 * (`keyrot:managed=true`, `keyrot:target=T`, TagResource) and records ADOPTED in the ledger
 * (refused while a rotation of T is in flight); without, it changes nothing. Idempotent: a key
 * already adopted is a success. The plan's listing gives the key's fingerprint for the checks.
 *
 * With `--yes`, a key the edge sends also becomes the target's current-key reference (the edge
 * account's secret `keyrot/<stage>/<target>/current-key`, docs/deploy.md): adopt reads its
 * value from API Gateway (GetApiKey) and hands it to Secrets Manager, never printing or storing
 * it, so a template deployed before the first rotation already sends it. A reference it cannot
 * set (no secret for that stage yet, no KMS grant for the operator) is reported, not an error:
 * the first rotation sets it.
 */
export async function adopt(ctx: CliContext, options: AdoptOptions): Promise<ExitCode> {
  const keyId = options.keyId.trim();
  if (!/^[A-Za-z0-9]{1,64}$/.test(keyId)) {
    throw new UsageError('--key-id', `"${options.keyId}" is not an API key id`);
  }
  const { target } = await resolveTarget(options.target, ctx.targetsFile, ctx.ledger, ctx.table);
  const keys = new ApiGatewayKeyStore(ctx.apiGateway);
  const checks: Check[] = [];
  const note = (check: string, detail: string) => checks.push({ check, detail });

  const [key, planKeys, state] = await Promise.all([
    keys.describeKey(keyId),
    keys.listPlanKeys(target.usagePlanId),
    ctx.ledger.targetState(target.name),
  ]);
  if (!key) {
    throw new AdoptRefusedError(
      '--key-id',
      `no API key ${keyId} in the API account (region ${ctx.api.region ?? 'default'})`,
    );
  }
  note('key', `${key.id} named ${key.name}`);
  if (!key.enabled) {
    throw new AdoptRefusedError(
      '--key-id',
      `key ${keyId} is disabled: API Gateway refuses it, so it cannot be the target's key`,
    );
  }
  const onPlan = planKeys.find((k) => k.id === keyId);
  if (!onPlan) {
    throw new AdoptRefusedError(
      '--key-id',
      `key ${keyId} is not on usage plan ${target.usagePlanId} of target ${target.name}`,
    );
  }
  const ref: KeyRef = { id: keyId, fingerprint: onPlan.fingerprint };
  note(
    'usage plan',
    `on usage plan ${target.usagePlanId}, enabled, fingerprint ${ref.fingerprint}`,
  );
  refuseOtherOwner(target, key);

  const recorded = (state.adoptedKeys ?? []).find((a) => a.keyId === keyId);
  const known = { target: target.name, key: ref, keyName: key.name };
  if (keyrotCreated(target, key)) {
    const rotation = key.tags[KEY_TAGS.rotation] ?? '?';
    note('adoption', `keyrot created this key (rotation ${rotation}): nothing to adopt`);
    return done(ctx, checks, { status: 'keyrot-created', ...known });
  }
  if (recorded && isManagedFor(target.name, key.tags)) {
    note(
      'adoption',
      `already adopted (${recorded.rotationId} at ${recorded.adoptedAt}): nothing to do`,
    );
    return done(ctx, checks, { status: 'already-adopted', ...known });
  }

  const edge = await readEdgeHeader(ctx, target);
  if (edge.kind === 'unread') {
    throw new AwsUnavailableError(
      `could not read distribution ${target.distributionId} (target ${target.name}) with the credentials of account ${await edgeAccount(ctx)}: ${edge.error}; pass --edge-profile <a profile of the edge account>`,
    );
  }
  const sent = edge.kind === 'header' ? edge.fingerprint : null;
  const atEdge = sent === ref.fingerprint;
  const where = `distribution ${target.distributionId} origin ${target.originId}`;
  if (atEdge) {
    note('edge', `${where} sends this key`);
  } else if (!options.force) {
    throw new AdoptRefusedError(
      '--key-id',
      `key ${keyId} is not the key ${where} sends (${sent ? `it sends fingerprint ${sent}` : edge.kind === 'problem' ? edge.problem : 'none'}): the next rotation would delete it, and it may be another client's; pass --force if it is the target's`,
    );
  } else {
    note('edge', `${where} does not send this key; adopted anyway (--force)`);
  }
  if (state.lock && state.lock.expiresAt >= ctx.clock.now().toISOString()) {
    throw lockedError(target, state.lock);
  }

  const summary = { target: target.name, key: ref, keyName: key.name, atEdge };
  if (!options.yes) {
    note(
      'would',
      `tag ${keyId} ${KEY_TAGS.managed}=true ${KEY_TAGS.target}=${target.name} and record ADOPTED; nothing changed (pass --yes)`,
    );
    return done(ctx, checks, { status: 'would-adopt', ...summary });
  }

  await keys.tagKey(keyId, { [KEY_TAGS.managed]: 'true', [KEY_TAGS.target]: target.name });
  note('tagged', `${KEY_TAGS.managed}=true ${KEY_TAGS.target}=${target.name}`);
  const identity = await ctx.sts.send(new GetCallerIdentityCommand({}));
  const actor = { function: 'keyrot-cli', account: identity.Account ?? 'unknown' };
  const rotationId = adoptionId(keyId);
  const step = stepsOf('keyrot-cli', { rotationId, target: target.name }, actor, ctx.clock);
  const result = await new DynamoDbLedger(ctx.dynamo, ctx.table).adopt(
    step('ADOPTED', {
      keys: [ref],
      keyName: key.name,
      targetSpec: target,
      atEdge,
      forced: !atEdge,
      requestedBy: identity.Arn ?? `account ${actor.account}`,
    }),
  );
  if (result.status === 'locked') throw lockedError(target, result.holder, true);
  note(
    'ledger',
    result.status === 'adopted'
      ? `ADOPTED recorded (${rotationId}); the next rotation of ${target.name} retires this key`
      : `ADOPTED was recorded before (${rotationId})`,
  );
  if (atEdge) await handOverReference(ctx, keys, target, ref, options.stage ?? 'prod', note);
  return done(ctx, checks, { status: result.status, ...summary, adoptionId: rotationId });
}

/** Makes the adopted key (the one the edge sends) the target's current-key reference. */
async function handOverReference(
  ctx: CliContext,
  keys: ApiGatewayKeyStore,
  target: Target,
  ref: KeyRef,
  stage: string,
  note: (check: string, detail: string) => void,
): Promise<void> {
  const name = currentKeySecretName(stage, target.name);
  const value = await keys.getKeyValue(ref.id);
  if (value.fingerprint !== ref.fingerprint) {
    throw new AdoptRefusedError('--key-id', `key ${ref.id} changed while it was adopted`);
  }
  const { reference, close } = SecretsManagerCurrentKey.connect(ctx.regional('edge'), stage);
  try {
    await reference.put(target.name, value, currentKeyVersionId(adoptionId(ref.id)));
    note('reference', `${name} now names this key (fingerprint ${ref.fingerprint})`);
  } catch (error) {
    // The adoption stands either way: the first rotation sets the reference.
    note(
      'reference',
      error instanceof ResourceNotFoundError
        ? `no secret ${name} in the edge account (edge stack not deployed for this target, or another --stage): the first rotation sets it`
        : `could not set ${name} (${summarizeError(error).name}: e.g. no kms:GenerateDataKey on keyrot's edge key for you): the first rotation sets it`,
    );
  } finally {
    close();
  }
}

/** A key tagged for another keyrot target is that target's: never adopted here. */
function refuseOtherOwner(target: Target, key: KeyDescription): void {
  const owner = key.tags[KEY_TAGS.target];
  if (owner !== undefined && owner !== target.name) {
    throw new AdoptRefusedError(
      '--key-id',
      `key ${key.id} is tagged ${KEY_TAGS.target}=${owner}: it belongs to target ${owner}, not ${target.name}`,
    );
  }
}

/** A key keyrot itself created for the target (its name and its rotation tag). */
const keyrotCreated = (target: Target, key: KeyDescription) =>
  key.name === target.apiKeyName &&
  isManagedFor(target.name, key.tags) &&
  key.tags[KEY_TAGS.rotation] !== undefined;

function lockedError(
  target: Target,
  lock: { rotationId: string; expiresAt: string },
  tagged = false,
) {
  return new AdoptRefusedError(
    '--target',
    `target ${target.name} is being rotated by ${lock.rotationId} (locked until ${lock.expiresAt}): adopt once it has ended${tagged ? ' (the key is tagged; run adopt again to record it)' : ''}`,
  );
}

function done(ctx: CliContext, checks: readonly Check[], result: AdoptOutcome) {
  ctx.print(render(ctx.output, COLUMNS, checks, result));
  return EXIT.ok;
}
