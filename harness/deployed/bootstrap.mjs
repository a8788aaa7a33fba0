/**
 * One Lambda execution environment for a deployed function, in a child Node process (test
 * infrastructure: harness/deployed/environments.ts starts it). It does what the nodejs
 * runtime's bootstrap does with a zip: resolves `_HANDLER` under `LAMBDA_TASK_ROOT` (module
 * path, then `.js`, `.mjs`, `.cjs`; the export after the last dot, nested names allowed),
 * loads the module once (the init phase), then runs one invocation at a time as the parent
 * asks over IPC, with a Lambda-shaped context. Errors come back as Lambda reports them:
 * `errorType` is the error's `name` (what the bundle left of it), init failures are
 * `Runtime.ImportModuleError` or `Runtime.HandlerNotFound`, as on AWS.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const taskRoot = process.env.LAMBDA_TASK_ROOT;
const handlerString = process.env._HANDLER ?? '';

class RuntimeError extends Error {
  constructor(type, message) {
    super(message);
    this.name = type;
  }
}

async function loadHandler() {
  const match = /^([^.]*?)\.([^/]+)$/.exec(
    handlerString.startsWith('./') ? handlerString.slice(2) : handlerString,
  );
  if (!match) {
    throw new RuntimeError('Runtime.MalformedHandlerName', `Bad handler ${handlerString}`);
  }
  const [, modulePath, exportPath] = match;
  const base = path.resolve(taskRoot, modulePath);
  const file = ['.js', '.mjs', '.cjs'].map((ext) => base + ext).find((f) => existsSync(f));
  if (!file) {
    throw new RuntimeError(
      'Runtime.ImportModuleError',
      `Error: Cannot find module '${base}'\nRequire stack:\n- /var/runtime/index.mjs`,
    );
  }
  let mod;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (error) {
    throw new RuntimeError('Runtime.ImportModuleError', `${error?.name}: ${error?.message}`);
  }
  let fn = mod;
  for (const part of exportPath.split('.')) fn = fn?.[part];
  if (typeof fn !== 'function') {
    throw new RuntimeError(
      'Runtime.HandlerNotFound',
      `${path.basename(modulePath)}.${exportPath} is undefined or not exported`,
    );
  }
  return fn;
}

function describe(error) {
  if (error instanceof Error) {
    return { errorType: error.name, errorMessage: error.message };
  }
  return { errorType: 'Error', errorMessage: String(error) };
}

const init = loadHandler().then(
  (fn) => ({ fn }),
  (error) => ({ error: describe(error) }),
);

process.on('message', async (message) => {
  if (message?.type !== 'invoke') return;
  const { id, event, context } = message;
  const loaded = await init;
  if (loaded.error) {
    process.send({ type: 'result', id, ok: false, error: loaded.error, init: true });
    return;
  }
  const lambdaContext = {
    ...context,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, context.deadlineMs - Date.now()),
  };
  try {
    const value = await loaded.fn(event, lambdaContext);
    process.send({ type: 'result', id, ok: true, value: value ?? null });
  } catch (error) {
    console.error(JSON.stringify({ level: 'ERROR', message: 'Invoke Error', ...describe(error) }));
    process.send({ type: 'result', id, ok: false, error: describe(error) });
  }
});

process.send({ type: 'ready' });
