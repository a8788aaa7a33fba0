import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readTargetsFile, targetsFilePath } from '../src/targets';
import { UsageError } from '../src/errors';

const dir = mkdtempSync(path.join(tmpdir(), 'keyrot-manifest-'));
function file(name: string, content: string): string {
  const at = path.join(dir, name);
  writeFileSync(at, content);
  return at;
}

const MANIFEST = `targets:
  - API_KEY_NAME: kloudpepper-api-key
    USAGE_PLAN_ID: 0aj0l3
    DISTRIBUTION_ID: E1MTSB8DGIOBI2
    ORIGIN_ID: api-gateway-origin
  - name: shop-api
    apiKeyName: shop-api-key
    usagePlanId: 7xq2mm
    distributionId: E2SHOP0000001
    originId: shop-origin
    schedule: cron(0 3 15 * ? *)
`;

describe('--targets keyrot.targets.yml (the targets manifest)', () => {
  it('reads the manifest’s targets, flat and structured, without the deployment settings', () => {
    expect(readTargetsFile(file('keyrot.targets.yml', MANIFEST))).toEqual([
      {
        name: 'kloudpepper-api-key',
        apiKeyName: 'kloudpepper-api-key',
        usagePlanId: '0aj0l3',
        distributionId: 'E1MTSB8DGIOBI2',
        originId: 'api-gateway-origin',
        headerName: 'x-api-key',
      },
      {
        name: 'shop-api',
        apiKeyName: 'shop-api-key',
        usagePlanId: '7xq2mm',
        distributionId: 'E2SHOP0000001',
        originId: 'shop-origin',
        headerName: 'x-api-key',
      },
    ]);
  });

  it('a bad entry is a usage error naming the file, the entry and the field', () => {
    const at = file('bad.yml', MANIFEST.replace('7xq2mm', "''"));
    expect(() => readTargetsFile(at)).toThrow(UsageError);
    expect(() => readTargetsFile(at)).toThrow(
      /^--targets: .*bad\.yml: targets\[1\] \(shop-api\): usagePlanId: must not be empty \(usage plan id\);/,
    );
  });

  it('is the default when ./keyrot.targets.json is absent', () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'keyrot-cwd-'));
    const previous = process.env.KEYROT_TARGETS;
    delete process.env.KEYROT_TARGETS;
    try {
      expect(targetsFilePath(undefined, cwd)).toBeUndefined();
      writeFileSync(path.join(cwd, 'keyrot.targets.yml'), MANIFEST);
      expect(targetsFilePath(undefined, cwd)).toBe(path.join(cwd, 'keyrot.targets.yml'));
      writeFileSync(path.join(cwd, 'keyrot.targets.json'), '[]');
      expect(targetsFilePath(undefined, cwd)).toBe(path.join(cwd, 'keyrot.targets.json'));
    } finally {
      if (previous !== undefined) process.env.KEYROT_TARGETS = previous;
    }
  });
});
