import { KEY_TAGS, type PlanKey } from '../aws/key-store';
import type { KeyRef, Target } from '../events';

export type KeyTags = Readonly<Record<string, string>>;

/**
 * Whether `tags` mark a key as keyrot's for the target `targetName`: `keyrot:managed=true`
 * and `keyrot:target=<name>`. Keys keyrot created carry them from creation; a key made by
 * hand, or under another name, carries them once the operator adopted it (`keyrot adopt`).
 */
export function isManagedFor(targetName: string, tags: KeyTags | undefined): boolean {
  return tags?.[KEY_TAGS.managed] === 'true' && tags[KEY_TAGS.target] === targetName;
}

/**
 * The supersede rule, the one place it is stated: which keys on the target's usage plan a
 * rotation replaces (and so retires once the edge sends the new key). They are
 * - every key of the target's `apiKeyName` (keyrot's own, and the seed's untagged key), and
 * - every key tagged as the target's (`keyrot:managed=true`, `keyrot:target=<name>`) under
 *   another name: a key the operator adopted.
 *
 * Other clients' keys (another name, not tagged for the target) are never superseded. A key
 * of the name that another keyrot target owns is listed, and the reaper leaves it in place.
 * `tagsById` holds the tags of the plan's keys of other names that may be adopted (the
 * caller reads only those); `newKeyId` is the rotation's own key, never superseded.
 */
export function supersededKeys(
  target: Pick<Target, 'name' | 'apiKeyName'>,
  planKeys: readonly PlanKey[],
  tagsById: ReadonlyMap<string, KeyTags>,
  newKeyId?: string,
): KeyRef[] {
  return planKeys
    .filter(
      (k) =>
        k.id !== newKeyId &&
        (k.name === target.apiKeyName || isManagedFor(target.name, tagsById.get(k.id))),
    )
    .map(({ id, fingerprint }) => ({ id, fingerprint }));
}

/**
 * The plan keys of another name than the target's whose tags {@link supersededKeys} must
 * see: those the ledger records as adopted for the target (`adopted`, key ids). Only these
 * are read, one `GetApiKey` each, so a plan shared with many clients costs no reads.
 */
export function adoptionCandidates(
  target: Pick<Target, 'apiKeyName'>,
  planKeys: readonly PlanKey[],
  adopted: readonly string[],
): string[] {
  const ids = new Set(adopted);
  return planKeys.filter((k) => k.name !== target.apiKeyName && ids.has(k.id)).map((k) => k.id);
}
