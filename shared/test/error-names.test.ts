/**
 * Every error class keyrot declares (shared/, the services, the CLI) reports its own name
 * after minification. The bundles are minified without esbuild's `keepNames`, so a class
 * that takes its name from `new.target.name` or `constructor.name` would report a short
 * identifier (`ke`) in the ledger, `RotationFailed`, the logs and the CLI. Each class
 * therefore states its name as a literal; this test finds the classes in the source, bundles
 * the files that declare them with the minification of services/esbuild.yml, constructs each
 * class from the bundle and compares the instance's `name` with the name it is exported as
 * (export names survive minification). A new class without a literal name fails here.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { parse } from 'yaml';

const root = path.resolve(__dirname, '..', '..');
const SOURCE_DIRS = [
  'shared/src',
  ...readdirSync(path.join(root, 'services')).map((s) => `services/${s}/src`),
  'cli/src',
];
const settings = parse(readFileSync(path.join(root, 'services', 'esbuild.yml'), 'utf8')) as {
  minify: boolean;
  target: string;
  keepNames?: boolean;
};

const CLASS = /^(?:export\s+)?(abstract\s+)?class\s+(\w+)\s+extends\s+(\w+)/gm;

interface Declared {
  readonly file: string;
  readonly name: string;
  readonly abstract: boolean;
}

function tsFiles(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(path.join(root, dir), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) =>
    e.isDirectory()
      ? tsFiles(`${dir}/${e.name}`)
      : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')
        ? [`${dir}/${e.name}`]
        : [],
  );
}

/** Every `class X extends Y` in the source, by file. */
function declaredClasses(): Declared[] {
  return SOURCE_DIRS.flatMap(tsFiles).flatMap((file) =>
    [...readFileSync(path.join(root, file), 'utf8').matchAll(CLASS)].map((m) => ({
      file,
      name: m[2]!,
      abstract: Boolean(m[1]),
    })),
  );
}

type Exports = Record<string, Record<string, unknown>>;

/** Bundles modules as the services' bundles are minified and loads the result. */
async function minifiedExports(files: Record<string, string>, dir: string): Promise<Exports> {
  const entry = Object.entries(files)
    .map(([alias, file]) => `export * as ${alias} from ${JSON.stringify(file)};`)
    .join('\n');
  const out = await build({
    stdin: { contents: entry, resolveDir: root, loader: 'ts' },
    bundle: true,
    write: false,
    platform: 'node',
    // CommonJS so that jest can require it; minification renames the same in ESM.
    format: 'cjs',
    target: settings.target,
    minify: settings.minify,
    keepNames: settings.keepNames ?? false,
    logLevel: 'error',
  });
  const file = path.join(dir, `bundle-${Object.keys(files).join('-')}.cjs`);
  writeFileSync(file, out.outputFiles[0]!.contents);
  // A bundle written at run time, loaded through jest's own CommonJS loader.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file) as Exports;
}

/**
 * An argument that fits any constructor: a string, a number, a list, an object with any
 * method, as the constructor uses it (never an Error, so no cause is unwrapped).
 */
const anything: unknown = new Proxy(function anything() {}, {
  get: (_target, key) => (key === Symbol.toPrimitive ? () => 'x' : anything),
  apply: () => anything,
});

function instanceOf(exported: unknown): Error | undefined {
  if (typeof exported !== 'function' || !(exported.prototype instanceof Error)) return undefined;
  const Class = exported as new (...args: unknown[]) => Error;
  return new Class(anything, anything, anything, anything, anything);
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'keyrot-error-names-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('error names after minification', () => {
  const declared = declaredClasses();
  const files = [...new Set(declared.map((d) => d.file))];
  const alias = (file: string) => `m${files.indexOf(file)}`;

  it('finds the error classes of shared/, the services and the CLI', () => {
    const names = declared.map((d) => d.name);
    expect(names).toEqual(
      expect.arrayContaining(['AwsCallError', 'EdgeConfigChangedError', 'UsageError']),
    );
    expect(files).toEqual(
      expect.arrayContaining([
        'shared/src/errors.ts',
        'services/edge-updater/src/edge-config.ts',
        'cli/src/errors.ts',
      ]),
    );
  });

  it('every concrete error class, minified, names its instances with its own name', async () => {
    const bundle = await minifiedExports(
      Object.fromEntries(files.map((f) => [alias(f), path.join(root, f)])),
      dir,
    );
    const checked: string[] = [];
    for (const { file, name, abstract } of declared) {
      if (abstract) continue;
      const exported = bundle[alias(file)]![name];
      // A class that is not exported cannot be checked (and cannot be caught by class).
      expect({ file, name, exported: exported !== undefined }).toEqual({
        file,
        name,
        exported: true,
      });
      const instance = instanceOf(exported);
      if (!instance) continue; // not an error class
      expect({ class: name, name: instance.name }).toEqual({ class: name, name });
      expect(String(instance.stack).split('\n')[0]).toMatch(new RegExp(`^${name}: `));
      checked.push(name);
    }
    expect(checked).toEqual(
      expect.arrayContaining(['AwsCallError', 'OriginNotFoundError', 'InternalError']),
    );
    expect(checked.length).toBeGreaterThanOrEqual(19);
  });

  it('negative control: minification renames a class that takes its name from new.target', async () => {
    // Fails if services/esbuild.yml stops renaming classes: the check above would prove nothing.
    const fixture = path.join(dir, 'fixture.ts');
    writeFileSync(
      fixture,
      [
        'export class FromNewTargetError extends Error {',
        '  constructor(message: string) { super(message); this.name = new.target.name; }',
        '}',
        'export class LiteralNameError extends Error {',
        "  override readonly name: string = 'LiteralNameError';",
        '}',
      ].join('\n'),
    );
    const { fx } = await minifiedExports({ fx: fixture }, dir);
    expect(instanceOf(fx!.FromNewTargetError)!.name).not.toBe('FromNewTargetError');
    expect(instanceOf(fx!.LiteralNameError)!.name).toBe('LiteralNameError');
  });
});
