import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import {
  DEFAULT_ROTATION_SCHEDULE,
  ManifestError,
  parseTargetsManifest,
  type TargetsManifest,
} from '../src';

const SEED = {
  API_KEY_NAME: 'kloudpepper-api-key',
  USAGE_PLAN_ID: '0aj0l3',
  DISTRIBUTION_ID: 'E1MTSB8DGIOBI2',
  ORIGIN_ID: 'api-gateway-origin',
};
const SHOP = {
  name: 'shop-api',
  apiKeyName: 'shop-api-key',
  usagePlanId: '7xq2mm',
  distributionId: 'E2SHOP0000001',
  originId: 'shop-origin',
};

/** The problems `parseTargetsManifest` reports for a document (fails if it parses). */
function problemsOf(document: unknown): readonly string[] {
  try {
    parseTargetsManifest(document);
  } catch (error) {
    if (error instanceof ManifestError) return error.problems;
    throw error;
  }
  throw new Error('the manifest parsed');
}

describe('parseTargetsManifest', () => {
  it('accepts the seed’s flat form and the structured form, with defaults', () => {
    const manifest: TargetsManifest = parseTargetsManifest({ targets: [SEED, SHOP] });
    expect(manifest.targets).toEqual([
      {
        name: 'kloudpepper-api-key',
        apiKeyName: 'kloudpepper-api-key',
        usagePlanId: '0aj0l3',
        distributionId: 'E1MTSB8DGIOBI2',
        originId: 'api-gateway-origin',
        headerName: 'x-api-key',
        schedule: DEFAULT_ROTATION_SCHEDULE,
        driftGuard: true,
        keyAgePolicyDays: 32,
      },
      {
        ...SHOP,
        headerName: 'x-api-key',
        schedule: 'cron(0 0 1 * ? *)',
        driftGuard: true,
        keyAgePolicyDays: 32,
      },
    ]);
  });

  it('takes the per-target schedule, readiness URL and drift guard', () => {
    const [target] = parseTargetsManifest({
      targets: [
        {
          ...SHOP,
          schedule: 'rate(7 days)',
          healthCheckUrl: 'https://shop.example.com/prod/health',
          driftGuard: false,
        },
      ],
    }).targets;
    expect(target).toMatchObject({
      schedule: 'rate(7 days)',
      healthCheckUrl: 'https://shop.example.com/prod/health',
      driftGuard: false,
    });
  });

  it('names the entry (index and name) and the field of each problem', () => {
    expect(
      problemsOf({
        targets: [SEED, { ...SHOP, usagePlanId: '7x q2mm', schedule: 'monthly' }],
      }),
    ).toEqual([
      'targets[1] (shop-api): usagePlanId: has characters a usage plan id cannot have',
      'targets[1] (shop-api): schedule: must be an EventBridge Scheduler cron(...) or rate(...) expression',
    ]);
    expect(problemsOf({ targets: [{ ...SEED, ORIGIN_ID: undefined }] })).toEqual([
      expect.stringMatching(/^targets\[0\] \(kloudpepper-api-key\): ORIGIN_ID: /),
    ]);
    expect(problemsOf({ targets: [{ ...SHOP, usagePlan: 'x' }] })).toEqual([
      expect.stringMatching(/^targets\[0\] \(shop-api\): .*usagePlan/),
    ]);
    expect(problemsOf({ targets: [{ ...SHOP, healthCheckUrl: 'ftp://x' }] })).toEqual([
      'targets[0] (shop-api): healthCheckUrl: must be an http(s) URL',
    ]);
  });

  it('refuses targets whose roles would conflict', () => {
    expect(
      problemsOf({
        targets: [
          SEED,
          {
            ...SHOP,
            name: 'same-plan-and-key',
            usagePlanId: '0aj0l3',
            apiKeyName: 'kloudpepper-api-key',
          },
          {
            ...SHOP,
            name: 'same-origin',
            distributionId: 'E1MTSB8DGIOBI2',
            originId: 'api-gateway-origin',
          },
          { ...SHOP, usagePlanId: 'p2', originId: 'o2' },
          { ...SHOP, usagePlanId: 'p3', originId: 'o3' },
        ],
      }),
    ).toEqual([
      'targets[4] (shop-api) conflicts with targets[3] (shop-api): the same name',
      'targets[1] (same-plan-and-key) conflicts with targets[0] (kloudpepper-api-key): the same usage plan and key name',
      'targets[2] (same-origin) conflicts with targets[0] (kloudpepper-api-key): the same distribution and origin',
    ]);
  });

  it('accepts two targets on one distribution with different origins', () => {
    const second = { ...SHOP, distributionId: SEED.DISTRIBUTION_ID, originId: 'admin-origin' };
    expect(parseTargetsManifest({ targets: [SEED, second] }).targets).toHaveLength(2);
  });

  it('refuses a document without a targets list, an empty one and unknown top-level fields', () => {
    expect(problemsOf([SEED])).toEqual(['must be a mapping with a `targets` list']);
    expect(problemsOf({ targets: [] })).toEqual(['targets: must name at least one target']);
    expect(problemsOf({ targets: [SEED], target: 1 })).toEqual(['target: unknown top-level field']);
    expect(problemsOf({ targets: ['x'] })).toEqual(['targets[0]: must be a mapping (a target)']);
  });

  it('the message names the file', () => {
    expect(() => parseTargetsManifest({ targets: [] }, 'fleet.yml')).toThrow(
      'fleet.yml: targets: must name at least one target',
    );
  });

  it('the repository’s keyrot.targets.yml is the seed’s single target', () => {
    const file = path.resolve(__dirname, '..', '..', 'keyrot.targets.yml');
    const manifest = parseTargetsManifest(parse(readFileSync(file, 'utf8')));
    expect(manifest.targets.map((t) => [t.name, t.usagePlanId, t.distributionId])).toEqual([
      ['kloudpepper-api-key', '0aj0l3', 'E1MTSB8DGIOBI2'],
    ]);
  });
});
