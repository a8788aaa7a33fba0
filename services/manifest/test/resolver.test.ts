/**
 * The osls resolver every serverless.yml reads the targets manifest through: what
 * `serverless package` accepts and refuses (the package-time checks).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Resolves `${file(resolver.cjs):targetNames}` as osls does: require() in a plain Node process
 * (tsx's require hook, which the resolver uses, does not run inside jest's module system).
 */
function targetNames(manifest: string): Promise<string> {
  const script =
    "require('./services/manifest/resolver.cjs').targetNames()" +
    '.then((v) => process.stdout.write(v), (e) => { process.stderr.write(e.message); process.exit(1); })';
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      ['-e', script],
      {
        cwd: path.resolve(__dirname, '../../..'),
        env: { ...process.env, KEYROT_TARGETS_FILE: manifest },
      },
      (error, stdout, stderr) =>
        error ? reject(new Error(stderr || error.message)) : resolve(stdout),
    ),
  );
}

const SEED = {
  API_KEY_NAME: 'kloudpepper-api-key',
  USAGE_PLAN_ID: '0aj0l3',
  DISTRIBUTION_ID: 'E1MTSB8DGIOBI2',
  ORIGIN_ID: 'api-gateway-origin',
};

function manifestFile(yaml: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'keyrot-manifest-')), 'targets.yml');
  writeFileSync(file, yaml);
  return file;
}

const entry = (settings: string) =>
  `targets:\n  - ${Object.entries(SEED)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n    ')}${settings}\n`;

describe('the manifest resolver at package time', () => {
  it('accepts the seed with the default schedule and policy', async () => {
    await expect(targetNames(manifestFile(entry('')))).resolves.toContain('kloudpepper-api-key');
  });

  it('refuses a schedule that cannot keep keys within the policy, naming entry, field and fix', async () => {
    await expect(targetNames(manifestFile(entry('\n    keyAgePolicyDays: 31')))).rejects.toThrow(
      /targets\[0\] \(kloudpepper-api-key\): schedule: cron\(0 0 1 \* \? \*\) runs up to 31\.00 days apart.*over the 31-day policy \(use a policy of at least 32 days, or run more often\)/,
    );
  });

  it('accepts the same policy with a schedule that meets it', async () => {
    const file = manifestFile(entry("\n    keyAgePolicyDays: 31\n    schedule: 'rate(28 days)'"));
    await expect(targetNames(file)).resolves.toContain('kloudpepper-api-key');
  });
});
