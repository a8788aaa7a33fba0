/**
 * The packaged bundles report keyrot's error names in full. Each function's zip (written by
 * `npm run package`) is extracted and its handler run as the Lambda runtime resolves it
 * (`Handler` from the template), in a fresh Node process, with the function's environment
 * from the template except one variable made invalid: the handler fails on its
 * configuration before any AWS call, with `InvalidInputError`. The probe reports the error
 * as Lambda's Node.js runtime does (`errorType` = the error's `name`; that is also what a
 * failure record in the dead-letter queue carries), so a minified name (`mr`) would show
 * here. A negative control runs the same probe on a tiny bundle built the same way from a
 * class that takes its name from `new.target.name`, and sees a short name.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { parse } from 'yaml';
import { extractZip } from '../../harness/deployed/functions';
import { loadTemplate, resourcesOfType } from './template';

const root = path.resolve(__dirname, '..', '..');
const SERVICES = ['key-issuer', 'edge-updater', 'key-reaper'] as const;

/** Imports the bundle, calls the export with an event, and reports what it threw. */
const PROBE = `
const [file, exportName] = process.argv.slice(1);
const mod = await import(file);
try {
  const result = await mod[exportName]({ id: 'probe', source: 'keyrot' }, {
    functionName: 'probe', awsRequestId: 'probe', getRemainingTimeInMillis: () => 60000,
  });
  console.log(JSON.stringify({ returned: result }));
} catch (error) {
  // As the Lambda Node.js runtime reports a handler's error (errorType = error.name).
  console.log(JSON.stringify({
    errorType: error.name, errorMessage: error.message, field: error.field,
    stackHead: String(error.stack).split('\\n')[0],
  }));
}
`;

interface Report {
  readonly errorType?: string;
  readonly errorMessage?: string;
  readonly field?: string;
  readonly stackHead?: string;
  readonly returned?: unknown;
}

/** Runs `exportName` of the bundle at `file` in a fresh Node process with only `env`. */
function probe(file: string, exportName: string, env: Record<string, string>): Report {
  const out = execFileSync(
    process.execPath,
    ['--input-type=module', '-e', PROBE, file, exportName],
    {
      cwd: path.dirname(file),
      env: { PATH: process.env.PATH ?? '', ...env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    },
  );
  const last = out.trim().split('\n').pop()!;
  return JSON.parse(last) as Report;
}

/** The variable each handler export reads first, and a value its schema refuses. */
const BREAK: Record<string, { variable: string; value: string }> = {
  handler: { variable: 'API_ACCOUNT_ID', value: 'not-an-account' },
  updateEdge: { variable: 'API_ACCOUNT_ID', value: 'not-an-account' },
  checkDeployment: { variable: 'API_ACCOUNT_ID', value: 'not-an-account' },
  check: { variable: 'LEDGER_TABLE_NAME', value: '' },
  // The drift guard's functions.
  checkEdge: { variable: 'API_ACCOUNT_ID', value: 'not-an-account' },
  drift: { variable: 'API_ACCOUNT_ID', value: 'not-an-account' },
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'keyrot-bundle-errors-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(SERVICES)('the packaged %s bundle', (service) => {
  const zip = path.join(root, 'services', service, '.serverless', `keyrot-${service}.zip`);
  const functions = resourcesOfType(loadTemplate(service), 'AWS::Lambda::Function').map(
    ([id, fn]) => {
      const props = fn.Properties as {
        Handler: string;
        Environment?: { Variables?: Record<string, unknown> };
      };
      const variables = Object.entries(props.Environment?.Variables ?? {}).filter(
        (entry): entry is [string, string] => typeof entry[1] === 'string',
      );
      return { id, handler: props.Handler, env: Object.fromEntries(variables) };
    },
  );

  it.each(functions.map((f) => [f.id, f] as const))(
    '%s reports a configuration error as InvalidInputError, in full',
    async (_, fn) => {
      if (!existsSync(zip)) throw new Error(`${zip} is missing: run "npm run package" first`);
      // As the nodejs runtime resolves Handler "src/handler.check": file src/handler.mjs.
      const dot = fn.handler.lastIndexOf('.');
      const [module, exportName] = [fn.handler.slice(0, dot), fn.handler.slice(dot + 1)];
      const file = path.join(dir, service, `${module}.mjs`);
      if (!existsSync(file)) await extractZip(readFileSync(zip), path.join(dir, service));
      const broken = BREAK[exportName]!;
      const report = probe(file, exportName, { ...fn.env, [broken.variable]: broken.value });
      expect(report).toMatchObject({
        errorType: 'InvalidInputError',
        field: broken.variable,
        stackHead: expect.stringMatching(/^InvalidInputError: invalid /),
      });
    },
  );
});

describe('negative control: the probe sees a minified name', () => {
  /**
   * A handler that throws a KeyrotError-like error, bundled as services/esbuild.yml does;
   * the name comes from `inBase` (the base constructor) or `inClass` (a class field).
   */
  async function fixtureBundle(name: string, naming: { inBase?: string; inClass?: string }) {
    const settings = parse(readFileSync(path.join(root, 'services', 'esbuild.yml'), 'utf8')) as {
      minify: boolean;
      target: string;
      banner: { js: string };
    };
    const source = path.join(dir, `${name}.ts`);
    await writeFile(
      source,
      [
        'abstract class BaseError extends Error {',
        '  protected constructor(message: string, readonly field?: string) {',
        '    super(message);',
        `    ${naming.inBase ?? ''}`,
        '  }',
        '}',
        'class InvalidInputError extends BaseError {',
        `  ${naming.inClass ?? ''}`,
        '  constructor(field: string) { super(`invalid ${field}: must be set`, field); }',
        '}',
        'export const handler = async () => { throw new InvalidInputError("API_ACCOUNT_ID"); };',
      ].join('\n'),
    );
    const out = path.join(dir, `${name}.mjs`);
    await build({
      entryPoints: [source],
      outfile: out,
      bundle: true,
      platform: 'node',
      format: 'esm',
      minify: settings.minify,
      target: settings.target,
      banner: settings.banner,
      logLevel: 'error',
    });
    return out;
  }

  it('with the old new.target.name pattern the bundle reports a short name', async () => {
    const file = await fixtureBundle('new-target', { inBase: 'this.name = new.target.name;' });
    const report = probe(file, 'handler', {});
    expect(report.errorType).toBeDefined();
    expect(report.errorType).not.toBe('InvalidInputError');
    expect(report.errorType!.length).toBeLessThan(4);
  });

  it('with a literal name the same bundle reports it in full', async () => {
    const file = await fixtureBundle('literal', {
      inClass: "override readonly name: string = 'InvalidInputError';",
    });
    expect(probe(file, 'handler', {})).toMatchObject({
      errorType: 'InvalidInputError',
      field: 'API_ACCOUNT_ID',
    });
  });
});
