/**
 * `npm run deploy:local`: starts the local emulator (moto), provisions the target and deploys
 * keyrot's three stacks onto it with the repository's own `serverless deploy`, as a user
 * deploys them (harness/deployed/deploy.ts), prints one line per stack and a summary, and stops
 * the emulator, or keeps it running with `--serve`.
 *
 *   npm run deploy:local -- [--single-account] [--stage NAME] [--serve]
 *
 * Exit code 1 when a deploy fails: the message names the stack and the failing resource.
 */
import { parseArgs } from 'node:util';
import { DeployError, deployLocal, LOCAL_STAGE, type DeployedWorld } from './deployed/deploy';
import { startMoto, type MotoServer } from './moto';

const USAGE = `usage: npm run deploy:local -- [--single-account] [--stage NAME] [--serve]

  --single-account  all three stacks in account 111111111111 (default: API 111111111111,
                    edge 222222222222)
  --stage NAME      the serverless stage (default ${LOCAL_STAGE})
  --serve           keep the emulator running afterwards and print its endpoint (Ctrl-C stops it)
  --help            this text`;

function parseOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      'single-account': { type: 'boolean', default: false },
      stage: { type: 'string', default: LOCAL_STAGE },
      serve: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  return {
    singleAccount: values['single-account'] ?? false,
    stage: values.stage ?? LOCAL_STAGE,
    serve: values.serve ?? false,
    help: values.help ?? false,
  };
}

async function main(): Promise<number> {
  // The local machines run Node 20 (Lambda runs 24); the SDK's notice about it is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`deploy:local: ${error instanceof Error ? error.message : String(error)}`);
    console.error(USAGE);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const started = Date.now();
  const moto = await startMoto();
  let keepRunning = false;
  try {
    console.log(`moto: ${moto.endpoint}`);
    const deployed = await deployLocal(moto.endpoint, {
      singleAccount: options.singleAccount,
      stage: options.stage,
      log: (line) => console.log(`  ${line}`),
    });
    printSummary(deployed, (Date.now() - started) / 1000);
    if (options.serve) {
      keepRunning = true;
      await serve(moto, deployed);
    }
    return 0;
  } catch (error) {
    if (error instanceof DeployError) {
      console.error(`deploy:local: ${error.message}`);
    } else {
      console.error(
        `deploy:local failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    return 1;
  } finally {
    if (!keepRunning) await moto.stop();
  }
}

function printSummary(deployed: DeployedWorld, seconds: number): void {
  const { world, stacks, stage } = deployed;
  const mode = world.singleAccount ? 'single-account' : 'two-account';
  console.log(
    `deployed ${stacks.length} stacks (${mode}, stage ${stage}) in ${seconds.toFixed(1)} s:`,
  );
  for (const stack of stacks) {
    console.log(
      `  ${stack.accountId}  ${stack.stackName}  (${Object.keys(stack.outputs).length} outputs)`,
    );
  }
  console.log(
    `  ledger ${world.api.ledgerTableName}, API bus ${world.api.busArn}, edge bus ${world.edge.busArn}`,
  );
  console.log(
    `  schedule ${world.api.scheduleGroupName}/${world.api.scheduleName}, KMS key ${world.edge.kmsKeyArn}`,
  );
  console.log(
    `  target: usage plan ${world.api.usagePlanId}, distribution ${world.edge.distributionId} (origin ${world.edge.originId})`,
  );
}

/** Keeps the emulator up until SIGINT/SIGTERM, then stops it. */
async function serve(moto: MotoServer, deployed: DeployedWorld): Promise<void> {
  const accounts = [...new Set(deployed.stacks.map((s) => s.accountId))].join(', ');
  console.log(`serving: AWS_ENDPOINT_URL=${moto.endpoint} (accounts ${accounts}; Ctrl-C stops)`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await moto.stop();
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`deploy:local failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
