import { existsSync } from 'node:fs';
import path from 'node:path';
import { targetSchema, type LedgerQueries, type Target } from '@keyrot/shared';
import { UnknownTargetError, UsageError } from './errors';
import {
  defaultManifestPath,
  isTargetsManifest,
  readTargetsManifest,
  readTargetsText,
} from './targets-manifest';

/** The targets file read when `--targets` and `KEYROT_TARGETS` are not given, if present. */
export const DEFAULT_TARGETS_FILE = 'keyrot.targets.json';

/** A target and where the CLI learnt it. */
export interface KnownTarget {
  readonly target: Target;
  readonly source: 'file' | 'ledger';
}

/**
 * Reads a targets file: a JSON array of targets, each validated with the shared
 * `targetSchema` (the same check the issuer makes). Errors name the file and the field, e.g.
 * `keyrot.targets.json: [1].usagePlanId: must not be empty (usage plan id)`.
 */
export function readTargetsFile(file: string): Target[] {
  if (isTargetsManifest(file)) return readTargetsManifest(file);
  const text = readTargetsText(file);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError('--targets', `${file} is not JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(json)) {
    throw new UsageError('--targets', `${file} must hold a JSON array of targets`);
  }
  const names = new Set<string>();
  return json.map((entry: unknown, index) => {
    const parsed = targetSchema.safeParse(entry);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = [`[${index}]`, ...(issue?.path ?? []).map(String)].join('.');
      throw new UsageError('--targets', `${file}: ${field}: ${issue?.message ?? 'invalid'}`);
    }
    if (names.has(parsed.data.name)) {
      throw new UsageError('--targets', `${file}: [${index}].name: "${parsed.data.name}" twice`);
    }
    names.add(parsed.data.name);
    return parsed.data;
  });
}

/**
 * The targets file to read: the option, then `KEYROT_TARGETS`, then ./keyrot.targets.json, then
 * the targets manifest ./keyrot.targets.yml.
 */
export function targetsFilePath(
  option: string | undefined,
  cwd = process.cwd(),
): string | undefined {
  if (option) return option;
  if (process.env.KEYROT_TARGETS) return process.env.KEYROT_TARGETS;
  const fallback = path.join(cwd, DEFAULT_TARGETS_FILE);
  return existsSync(fallback) ? fallback : defaultManifestPath(cwd);
}

/**
 * Every target the CLI knows: those of the targets file, and those the ledger recorded. From
 * the ledger, a target is as its last completed rotation ran it (proven to work), else as it
 * was last requested (the registry). The file wins where both name a target: it states what
 * the operator wants now.
 */
export async function knownTargets(
  file: string | undefined,
  ledger: LedgerQueries,
): Promise<Map<string, KnownTarget>> {
  const known = new Map<string, KnownTarget>();
  for (const record of await ledger.targets()) {
    known.set(record.target, { target: record.targetSpec, source: 'ledger' });
  }
  for (const key of await ledger.currentKeys()) {
    if (key.targetSpec) known.set(key.target, { target: key.targetSpec, source: 'ledger' });
  }
  for (const target of file ? readTargetsFile(file) : []) {
    known.set(target.name, { target, source: 'file' });
  }
  return new Map([...known].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** One target by name, or {@link UnknownTargetError} listing the known ones. */
export async function resolveTarget(
  name: string,
  file: string | undefined,
  ledger: LedgerQueries,
  tableName: string,
): Promise<KnownTarget> {
  // The file alone answers when it names the target; the ledger is read only otherwise.
  const inFile = (file ? readTargetsFile(file) : []).find((t) => t.name === name);
  if (inFile) return { target: inFile, source: 'file' };
  const known = await knownTargets(file, ledger);
  const found = known.get(name);
  if (found) return found;
  const where = file ? `${path.basename(file)} nor ledger ${tableName}` : `ledger ${tableName}`;
  throw new UnknownTargetError(name, [...known.keys()], where);
}
