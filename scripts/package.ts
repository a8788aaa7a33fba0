/**
 * `npm run package`: packages every service and the example offline (no credentials, no
 * network), in two-account mode (serverless-compose.yml) and in single-account mode, copies
 * each CloudFormation template to dist/templates/, and prints each function's bundle size
 * next to a naive CommonJS bundle of the same handler built in the same run.
 *
 * Exit code 1 if packaging fails or a bundle is over 60% of its naive CommonJS twin.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Table from 'cli-table3';
import { open as openZip, type Entry, type ZipFile } from 'yauzl';
import { naiveCjsBundle, SERVICES } from './bundles';

const root = path.resolve(__dirname, '..');
const outDir = path.join(root, 'dist', 'templates');
const MAX_RATIO = 0.6;

const SINGLE_ACCOUNT = [
  'accountMode=single-account',
  'apiAccountId=111111111111',
  'edgeAccountId=111111111111',
  'edgeBus=arn:aws:events:us-east-1:111111111111:event-bus/keyrot',
  'edgeKmsKeyArn=arn:aws:kms:us-east-1:111111111111:key/00000000-0000-0000-0000-000000000000',
];

function serverless(cwd: string, args: string[]): void {
  execFileSync(path.join(root, 'node_modules', '.bin', 'serverless'), args, {
    cwd,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, PATH: `${path.join(root, 'node_modules', '.bin')}:${process.env.PATH}` },
  });
}

/** Uncompressed size of one file inside a zip. */
function sizeInZip(zipPath: string, fileName: string): Promise<number> {
  return new Promise((resolve, reject) => {
    openZip(zipPath, { lazyEntries: true }, (error: Error | null, zip: ZipFile) => {
      if (error) return reject(error);
      zip.on('entry', (entry: Entry) => {
        if (entry.fileName === fileName) {
          zip.close();
          resolve(entry.uncompressedSize);
        } else zip.readEntry();
      });
      zip.on('end', () => reject(new Error(`${fileName} not in ${zipPath}`)));
      zip.readEntry();
    });
  });
}

async function main(): Promise<number> {
  rmSync(path.join(root, 'dist'), { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });

  console.error('packaging key-issuer and edge-updater in single-account mode...');
  for (const service of ['key-issuer', 'edge-updater']) {
    const dir = path.join(root, 'services', service);
    serverless(dir, [
      'package',
      '--package',
      '.serverless-single',
      ...SINGLE_ACCOUNT.flatMap((p) => ['--param', p]),
    ]);
    copyFileSync(
      path.join(dir, '.serverless-single', 'cloudformation-template-update-stack.json'),
      path.join(outDir, `${service}.single-account.json`),
    );
  }
  console.error('packaging the services (two-account mode, serverless-compose.yml)...');
  serverless(root, ['package']);
  for (const service of SERVICES) {
    copyFileSync(
      path.join(
        root,
        'services',
        service,
        '.serverless',
        'cloudformation-template-update-stack.json',
      ),
      path.join(outDir, `${service}.json`),
    );
  }
  // Two-account last: its .serverless folders (zips and templates) are the ones kept.
  const rows = await Promise.all(
    SERVICES.map(async (service) => {
      const zip = path.join(root, 'services', service, '.serverless', `keyrot-${service}.zip`);
      const bundle = await sizeInZip(zip, 'src/handler.mjs');
      const naive = (await naiveCjsBundle(service)).length;
      return { service, bundle, naive, ratio: bundle / naive };
    }),
  );
  console.error('packaging examples/protected-api...');
  serverless(path.join(root, 'examples', 'protected-api'), ['package']);
  copyFileSync(
    path.join(
      root,
      'examples',
      'protected-api',
      '.serverless',
      'cloudformation-template-update-stack.json',
    ),
    path.join(outDir, 'example-protected-api.json'),
  );

  const table = new Table({ head: ['function', 'bundle (ESM, min)', 'naive CJS', 'ratio'] });
  for (const r of rows) {
    table.push([r.service, kb(r.bundle), kb(r.naive), `${(r.ratio * 100).toFixed(1)}%`]);
  }
  console.log(table.toString());
  writeFileSync(path.join(root, 'dist', 'bundles.json'), `${JSON.stringify(rows, null, 2)}\n`);
  console.log(`templates written to ${path.relative(root, outDir)}/`);
  const over = rows.filter((r) => r.ratio > MAX_RATIO);
  for (const r of over) {
    console.error(
      `package: ${r.service} bundle is ${(r.ratio * 100).toFixed(1)}% of its naive CommonJS bundle (limit ${MAX_RATIO * 100}%)`,
    );
  }
  return over.length > 0 ? 1 : 0;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`package failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
