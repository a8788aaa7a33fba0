/**
 * The targets manifest (`keyrot.targets.yml` at the root of the repository keyrot is deployed
 * from): the one list of what a deployment rotates. The stacks derive their schedules, role
 * resources, readiness URLs and alarms from it, and the CLI's `--targets` reads it. Each entry
 * is a target as the events carry it (validated by the same schemas: the structured form or
 * the seed's flat form), plus the per-target deployment settings below.
 *
 * This module validates an already parsed document (YAML parsing stays with the callers, so
 * the Lambda bundles never carry a YAML parser).
 */
import * as z from 'zod/mini';
import { seedInputSchema, targetSchema, type Target } from './events/target';

/** EventBridge Scheduler expression of a target without `schedule`: monthly, on the 1st. */
export const DEFAULT_ROTATION_SCHEDULE = 'cron(0 0 1 * ? *)';

/**
 * Key-age policy of a target without `keyAgePolicyDays`, in days: the default schedule's
 * longest gap (31 days, a 31-day month) plus the longest a rotation may take (its 6 h
 * lock), rounded up, so a default configuration never alarms on itself (docs/decisions.md,
 * "Default schedule and policy agree"; shared/src/schedule.ts checks any pair).
 */
export const DEFAULT_KEY_AGE_POLICY_DAYS = 32;

/** The manifest's default file name, at the repository root. */
export const TARGETS_MANIFEST_FILE = 'keyrot.targets.yml';

const scheduleSchema = z.string().check(
  z.regex(/^(cron\([^()]+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$/, {
    error: 'must be an EventBridge Scheduler cron(...) or rate(...) expression',
  }),
);
const healthCheckUrlSchema = z.url({
  protocol: /^https?$/,
  error: 'must be an http(s) URL',
});

/** Per-target deployment settings; every one is optional. */
const settingsSchema = z.strictObject({
  schedule: z._default(scheduleSchema, DEFAULT_ROTATION_SCHEDULE),
  healthCheckUrl: z.optional(healthCheckUrlSchema),
  /**
   * The drift guard (default true): changes to the distribution keyrot did not make are
   * checked, alarmed on, and healed when the edge's key is not live (docs/operations.md).
   */
  driftGuard: z._default(z.boolean({ error: 'must be true or false' }), true),
  /** Largest allowed key age, in days: the key-age alarm's threshold. */
  keyAgePolicyDays: z._default(
    z
      .int({ error: 'must be a whole number of days' })
      .check(z.positive({ error: 'must be a whole number of days' })),
    DEFAULT_KEY_AGE_POLICY_DAYS,
  ),
});
const SETTINGS = ['schedule', 'healthCheckUrl', 'driftGuard', 'keyAgePolicyDays'] as const;

/** One manifest entry: a target plus its deployment settings. */
export interface ManifestTarget extends Target {
  readonly schedule: string;
  readonly healthCheckUrl?: string;
  readonly driftGuard: boolean;
  readonly keyAgePolicyDays: number;
}

export interface TargetsManifest {
  readonly targets: readonly ManifestTarget[];
}

/** A manifest that does not validate: names the entry (index and name) and the field. */
export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`${source}: ${problems.join('; ')}`);
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function pathOf(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(entry)' : path.map(String).join('.');
}

/** The entry's name as a reader knows it, for messages (before it validates). */
function entryLabel(entry: unknown, index: number): string {
  const name = isRecord(entry)
    ? (entry.name ?? entry.TARGET_NAME ?? entry.API_KEY_NAME)
    : undefined;
  return typeof name === 'string' && name !== ''
    ? `targets[${index}] (${name})`
    : `targets[${index}]`;
}

function issues(error: z.core.$ZodError, prefix: string): string[] {
  return error.issues.map((issue) => `${prefix}: ${pathOf(issue.path)}: ${issue.message}`);
}

function parseEntry(entry: unknown, index: number, problems: string[]): ManifestTarget | undefined {
  const label = entryLabel(entry, index);
  if (!isRecord(entry)) {
    problems.push(`${label}: must be a mapping (a target)`);
    return undefined;
  }
  const settingsPart: Record<string, unknown> = {};
  const targetPart: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entry)) {
    if ((SETTINGS as readonly string[]).includes(key)) settingsPart[key] = value;
    else targetPart[key] = value;
  }
  // The seed's flat form is recognised by its upper-case keys.
  const flat = Object.keys(targetPart).some((key) => /^[A-Z_]+$/.test(key));
  const target = flat ? seedInputSchema.safeParse(targetPart) : targetSchema.safeParse(targetPart);
  const settings = settingsSchema.safeParse(settingsPart);
  if (!target.success) problems.push(...issues(target.error, label));
  if (!settings.success) problems.push(...issues(settings.error, label));
  if (!target.success || !settings.success) return undefined;
  const { healthCheckUrl, ...rest } = settings.data;
  return { ...target.data, ...rest, ...(healthCheckUrl !== undefined && { healthCheckUrl }) };
}

/**
 * Two targets whose roles and locks would collide: the same name (lock and ledger history),
 * the same key name on the same usage plan (each would retire the other's keys), or the same
 * origin of the same distribution (each would overwrite the other's header).
 */
function conflicts(targets: readonly ManifestTarget[], order: readonly number[]): string[] {
  const problems: string[] = [];
  const rules: [string, (t: ManifestTarget) => string][] = [
    ['the same name', (t) => t.name],
    ['the same usage plan and key name', (t) => `${t.usagePlanId}\u0000${t.apiKeyName}`],
    ['the same distribution and origin', (t) => `${t.distributionId}\u0000${t.originId}`],
  ];
  for (const [what, keyOf] of rules) {
    const seen = new Map<string, string>();
    targets.forEach((target, i) => {
      const key = keyOf(target);
      const label = `targets[${order[i]}] (${target.name})`;
      const first = seen.get(key);
      if (first === undefined) seen.set(key, label);
      else problems.push(`${label} conflicts with ${first}: ${what}`);
    });
  }
  return problems;
}

/**
 * Validates a parsed manifest document: `{ targets: [entry, ...] }`, each entry a target in
 * the structured form (`name`, `apiKeyName`, `usagePlanId`, `distributionId`, `originId`,
 * optional `headerName`) or the seed's flat form (`API_KEY_NAME`, `USAGE_PLAN_ID`,
 * `DISTRIBUTION_ID`, `ORIGIN_ID`), with optional `schedule`, `healthCheckUrl`, `driftGuard`,
 * `keyAgePolicyDays`.
 * Throws {@link ManifestError} listing every problem.
 */
export function parseTargetsManifest(
  document: unknown,
  source: string = TARGETS_MANIFEST_FILE,
): TargetsManifest {
  if (!isRecord(document) || !Array.isArray(document.targets)) {
    throw new ManifestError(source, ['must be a mapping with a `targets` list']);
  }
  const extra = Object.keys(document).filter((key) => key !== 'targets');
  const problems: string[] = extra.map((key) => `${key}: unknown top-level field`);
  if (document.targets.length === 0) problems.push('targets: must name at least one target');
  const targets: ManifestTarget[] = [];
  const order: number[] = [];
  document.targets.forEach((entry: unknown, index) => {
    const target = parseEntry(entry, index, problems);
    if (target) {
      targets.push(target);
      order.push(index);
    }
  });
  problems.push(...conflicts(targets, order));
  if (problems.length > 0) throw new ManifestError(source, problems);
  return { targets };
}

/** The target of a manifest entry, without its deployment settings (what events carry). */
export function targetOf({
  name,
  apiKeyName,
  usagePlanId,
  distributionId,
  originId,
  headerName,
}: ManifestTarget): Target {
  return { name, apiKeyName, usagePlanId, distributionId, originId, headerName };
}

/** The distinct values of `pick` over the manifest's targets, in manifest order. */
export function distinctOf(manifest: TargetsManifest, pick: (t: ManifestTarget) => string) {
  return [...new Set(manifest.targets.map(pick))];
}
