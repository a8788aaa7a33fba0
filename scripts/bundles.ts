/**
 * The two ways of bundling a handler that `npm run package` and `npm run bench` compare:
 * keyrot's (the options of services/esbuild.yml: minified ESM, module main fields, unused
 * credential providers left out) and a naive CommonJS bundle of the same handler.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { build, type BuildOptions } from 'esbuild';
import { parse } from 'yaml';

const root = path.resolve(__dirname, '..');

export const SERVICES = ['key-issuer', 'edge-updater', 'key-reaper'] as const;
export type ServiceName = (typeof SERVICES)[number];

const entryOf = (service: string) => path.join(root, 'services', service, 'src', 'handler.ts');

async function bundle(options: BuildOptions): Promise<Uint8Array> {
  const result = await build({ ...options, bundle: true, write: false, logLevel: 'error' });
  return result.outputFiles![0]!.contents;
}

/** The handler bundled the naive way: CommonJS, default main fields (no ESM tree-shaking). */
export function naiveCjsBundle(service: string): Promise<Uint8Array> {
  return bundle({
    entryPoints: [entryOf(service)],
    minify: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
  });
}

/** The handler bundled as serverless-esbuild does with services/esbuild.yml. */
export function keyrotBundle(service: string): Promise<Uint8Array> {
  const settings = parse(readFileSync(path.join(root, 'services', 'esbuild.yml'), 'utf8')) as {
    minify: boolean;
    target: string;
    mainFields: string[];
    exclude: string[];
    banner: { js: string };
  };
  return bundle({
    entryPoints: [entryOf(service)],
    minify: settings.minify,
    platform: 'node',
    target: settings.target,
    format: 'esm',
    mainFields: settings.mainFields,
    external: settings.exclude,
    banner: settings.banner,
  });
}
