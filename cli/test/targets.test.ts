import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { knownTargets, readTargetsFile, resolveTarget } from '../src/targets';
import { UnknownTargetError, UsageError } from '../src/errors';
import { TARGET } from '../../test/support/fixtures';
import { FakeLedgerQueries } from './fakes';

const dir = mkdtempSync(path.join(tmpdir(), 'keyrot-targets-'));
function file(name: string, content: string): string {
  const at = path.join(dir, name);
  writeFileSync(at, content);
  return at;
}

describe('the targets file', () => {
  it('reads a JSON array of targets with the shared schema (header name defaulted)', () => {
    const withoutHeader: Partial<typeof TARGET> = { ...TARGET };
    delete withoutHeader.headerName;
    const at = file('ok.json', JSON.stringify([withoutHeader]));
    expect(readTargetsFile(at)).toEqual([TARGET]);
  });

  it.each([
    ['missing.json', null, /^--targets: cannot read .*missing\.json \(ENOENT\)$/],
    ['notjson.json', '{ nope', /^--targets: .*notjson\.json is not JSON/],
    [
      'object.json',
      '{"targets": []}',
      /^--targets: .*object\.json must hold a JSON array of targets$/,
    ],
    [
      'field.json',
      JSON.stringify([TARGET, { ...TARGET, name: 'b', distributionId: '' }]),
      /^--targets: .*field\.json: \[1\]\.distributionId: must not be empty \(distribution id\)$/,
    ],
    [
      'extra.json',
      JSON.stringify([{ ...TARGET, value: 'secret' }]),
      /^--targets: .*extra\.json: \[0\]/,
    ],
    [
      'twice.json',
      JSON.stringify([TARGET, TARGET]),
      /^--targets: .*twice\.json: \[1\]\.name: "kloudpepper-api-key" twice$/,
    ],
  ])('%s: a usage error naming the file and field', (name, content, message) => {
    const at = content === null ? path.join(dir, name) : file(name, content);
    expect(() => readTargetsFile(at)).toThrow(UsageError);
    expect(() => readTargetsFile(at)).toThrow(message);
  });
});

describe('where the CLI learns a target', () => {
  const asRequested = { ...TARGET, originId: 'typo-origin' };
  const asCompleted = { ...TARGET, originId: 'api-gateway-origin' };

  function ledger() {
    const fake = new FakeLedgerQueries();
    fake.registry.push({
      target: TARGET.name,
      targetSpec: asRequested,
      updatedAt: '2026-11-25T09:00:00.000Z',
      rotationId: 'rot_b',
    });
    return fake;
  }

  it('takes the last requested spec when no rotation of the target completed', async () => {
    const known = await knownTargets(undefined, ledger());
    expect(known.get(TARGET.name)).toEqual({ target: asRequested, source: 'ledger' });
  });

  it('prefers the spec of the last completed rotation to the last requested one', async () => {
    const fake = ledger();
    fake.keys.push({
      target: TARGET.name,
      rotationId: 'rot_a',
      key: { id: 'k1', fingerprint: '0123456789ab' },
      keyCreatedAt: '2026-11-01T00:00:00.000Z',
      completedAt: '2026-11-01T00:05:00.000Z',
      targetSpec: asCompleted,
    });
    expect((await knownTargets(undefined, fake)).get(TARGET.name)?.target).toEqual(asCompleted);
  });

  it('prefers the targets file to the ledger, and reads only the file when it names the target', async () => {
    const fromFile = { ...TARGET, usagePlanId: 'fileplan' };
    const at = file('pref.json', JSON.stringify([fromFile]));
    const fake = ledger();
    const reads = jest.spyOn(fake, 'targets');

    await expect(resolveTarget(TARGET.name, at, fake, 'keyrot-ledger')).resolves.toEqual({
      target: fromFile,
      source: 'file',
    });
    expect(reads).not.toHaveBeenCalled();
    expect((await knownTargets(at, fake)).get(TARGET.name)?.source).toBe('file');
  });

  it('names the places it looked and the targets it knows for an unknown one', async () => {
    const at = file('other.json', JSON.stringify([{ ...TARGET, name: 'other' }]));
    const error = await resolveTarget('nope', at, ledger(), 'keyrot-ledger').catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UnknownTargetError);
    expect((error as Error).message).toBe(
      '--target: unknown target "nope": not in other.json nor ledger keyrot-ledger (known: kloudpepper-api-key, other)',
    );
  });
});
