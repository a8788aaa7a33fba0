/**
 * `--targets keyrot.targets.yml`: the targets manifest the stacks are deployed from (validated
 * by the same `parseTargetsManifest` the packaging uses), read as the CLI's targets. Its
 * per-target deployment settings (schedule, readiness URL, drift guard) are the stacks'
 * business; the CLI keeps the targets.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ManifestError,
  parseTargetsManifest,
  TARGETS_MANIFEST_FILE,
  targetOf,
  type Target,
} from '@keyrot/shared';
import { parse } from 'yaml';
import { UsageError } from './errors';

/** A YAML targets file is a manifest; anything else is the CLI's JSON array. */
export const isTargetsManifest = (file: string) => /\.ya?ml$/i.test(file);

/** The text of a targets file (JSON list or YAML manifest); a usage error if unreadable. */
export function readTargetsText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'unreadable';
    throw new UsageError('--targets', `cannot read ${file} (${code})`);
  }
}

/** ./keyrot.targets.yml, if present. */
export function defaultManifestPath(cwd: string): string | undefined {
  const file = path.join(cwd, TARGETS_MANIFEST_FILE);
  return existsSync(file) ? file : undefined;
}

/**
 * The manifest's targets. Errors name the file, the entry and the field, as at package time,
 * e.g. `keyrot.targets.yml: targets[1] (shop-api): usagePlanId: must not be empty`.
 */
export function readTargetsManifest(file: string): Target[] {
  const text = readTargetsText(file);
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new UsageError('--targets', `${file} is not YAML (${(error as Error).message})`);
  }
  try {
    return parseTargetsManifest(document, file).targets.map(targetOf);
  } catch (error) {
    if (error instanceof ManifestError) throw new UsageError('--targets', error.message);
    throw error;
  }
}
