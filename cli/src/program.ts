import { Command, CommanderError, Option } from 'commander';
import type { Clock } from '@keyrot/shared';
import { DEFAULT_KEY_AGE_POLICY_DAYS } from '@keyrot/shared/src/schedule';
import { version } from '../package.json';
import { adopt, type AdoptOptions } from './commands/adopt';
import { exportLedger, listRotations, showRotation, type ListOptions } from './commands/ledger';
import { doctor, type DoctorOptions } from './commands/doctor';
import { redrive, type RedriveOptions } from './commands/redrive';
import { report } from './commands/report';
import { rotate } from './commands/rotate';
import { status } from './commands/status';
import { verify } from './commands/verify';
import {
  CliContext,
  DEFAULT_BUS,
  DEFAULT_TABLE,
  type GlobalOptions,
  type Streams,
} from './context';
import { EXIT, oneLine, toCliError, type ExitCode } from './errors';
import { OUTPUT_FORMATS } from './output';
import { DEFAULT_TARGETS_FILE } from './targets';

const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  internal error (a bug)
  2  bad input: option, date, unknown target or rotation, invalid targets file; adopt
     refused the key (not on the plan, disabled, another target's, not sent by the edge)
  3  verify found drift (incl. an edge key keyrot does not manage: keyrot adopt fixes it)
  4  the rotation followed by --wait failed, was refused or rejected
  5  AWS unreachable or refused a call (endpoint, credentials, permissions, table); verify
     could not read the edge (e.g. no --edge-profile: read with the API account's credentials)
  6  --wait gave up before the rotation ended (--timeout)
  7  doctor found a check that fails (a rotation would not work as things are)

Targets: a JSON array of targets (name, apiKeyName, usagePlanId, distributionId, originId,
headerName?) in --targets, $KEYROT_TARGETS or ./${DEFAULT_TARGETS_FILE}; where a file does
not name a target, the one the ledger recorded when it was last requested.`;

/** A command's `--help` epilogue: examples an operator can copy, each with what it does. */
export function examples(...lines: readonly [command: string, does: string][]): string {
  return `\nExamples:\n${lines.map(([command, does]) => `  $ keyrot ${command}\n      ${does}`).join('\n')}\n`;
}

/**
 * Runs the CLI on `argv` (without `node` and the script) and resolves to the exit code.
 * Everything it prints goes through `streams`; errors are one line on stderr.
 */
export async function run(
  argv: readonly string[],
  streams: Streams,
  options: { clock?: Clock; env?: NodeJS.ProcessEnv } = {},
): Promise<ExitCode> {
  let exitCode: ExitCode = EXIT.ok;
  let context: CliContext | undefined;
  const program = new Command('keyrot');
  const withContext =
    <A extends unknown[]>(action: (ctx: CliContext, ...args: A) => Promise<ExitCode>) =>
    async (...args: A) => {
      context = new CliContext(program.opts<GlobalOptions>(), streams, options.clock, options.env);
      exitCode = await action(context, ...args);
    };

  program
    .description('Operate and audit keyrot: rotate keys, see their state, check drift, report.')
    .version(version, '-V, --version', "print keyrot's version")
    .option(
      '--endpoint <url>',
      'AWS endpoint URL, e.g. a local emulator (default: $AWS_ENDPOINT_URL)',
    )
    .option('--region <region>', "AWS region (default: $AWS_REGION, or the profile's)")
    .option(
      '--profile <name>',
      'API account profile from the shared AWS config and credentials files',
    )
    .option(
      '--edge-profile <name>',
      "edge account profile, for verify's and adopt's CloudFront read (default: --profile)",
    )
    .option('--edge-endpoint <url>', 'edge account endpoint URL (default: --endpoint)')
    .option('--table <name>', `ledger table (default: $KEYROT_LEDGER_TABLE or ${DEFAULT_TABLE})`)
    .option(
      '--bus <name>',
      `API account's keyrot bus (default: $KEYROT_EVENT_BUS or ${DEFAULT_BUS})`,
    )
    .option(
      '--targets <file>',
      `targets file (default: $KEYROT_TARGETS or ./${DEFAULT_TARGETS_FILE} if present)`,
    )
    .addOption(
      new Option('-o, --output <format>', 'result format').choices(OUTPUT_FORMATS).default('table'),
    )
    .addHelpText('after', EXIT_CODES_HELP)
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => streams.out(text),
      writeErr: (text) => streams.err(text),
      outputError: (text, write) => write(`keyrot: ${oneLine(text.replace(/^error: /, ''))}\n`),
    });

  program
    .command('rotate')
    .description('request a rotation now (KeyRotationRequested, reason manual)')
    .requiredOption('--target <name>', 'the target to rotate')
    .option('--emergency', 'reason emergency: the shortest grace before the old key is deleted')
    .option('--dry-run', 'print the steps and API calls the rotation would make; change nothing')
    .option('--wait', 'follow the rotation through the ledger until it completes or fails')
    .option('--timeout <seconds>', 'how long --wait follows the rotation', '1800')
    .option('--poll <seconds>', 'pause between two ledger reads while waiting', '2')
    .addHelpText(
      'after',
      examples(
        [
          'rotate --target kloudpepper-api-key --dry-run',
          'the calls a rotation would make; changes nothing',
        ],
        [
          'rotate --target kloudpepper-api-key --wait',
          'rotate now and follow it to COMPLETED (exit 4 if it fails)',
        ],
        [
          'rotate --target kloudpepper-api-key --emergency --wait',
          'after a leak: the shortest grace for the old key',
        ],
      ),
    )
    .action(withContext((ctx, opts: Parameters<typeof rotate>[1]) => rotate(ctx, opts)));

  program
    .command('status')
    .description('every target: current key, its age, last rotation, rotation in flight')
    .option('--policy-days <days>', 'largest allowed key age', String(DEFAULT_KEY_AGE_POLICY_DAYS))
    .option('--older-than <days>', 'only targets whose key is older (or of unknown age)')
    .addHelpText(
      'after',
      examples(
        [
          'status',
          'every target: key, age, last rotation, rotation in flight, last rejected request',
        ],
        ['status --older-than 25 -o json', 'targets whose key is older than 25 days, as JSON'],
      ),
    )
    .action(withContext((ctx, opts: Parameters<typeof status>[1]) => status(ctx, opts)));

  program
    .command('verify')
    .description(
      'drift check: the header CloudFront sends is a live key; no stray key; no stale lock',
    )
    .option('--target <name>', 'the target to check (default: every known target)')
    .addHelpText(
      'after',
      examples(
        [
          'verify --edge-profile keyrot-edge',
          'every target; exit 3 on drift, 5 if the edge could not be read',
        ],
        [
          'verify --target kloudpepper-api-key --edge-profile keyrot-edge -o json',
          'one target, as JSON',
        ],
      ),
    )
    .action(withContext((ctx, opts: Parameters<typeof verify>[1]) => verify(ctx, opts)));

  program
    .command('adopt')
    .description(
      'hand an existing key keyrot did not create to a target (tag it, record ADOPTED): its next rotation retires it',
    )
    .requiredOption('--target <name>', 'the target the key becomes part of')
    .requiredOption('--key-id <id>', "the API key id (on the target's usage plan)")
    .option('--yes', 'tag the key and record the adoption (without: check only, change nothing)')
    .option(
      '--force',
      "adopt a key the edge does not send (the next rotation deletes it: be sure it is the target's)",
    )
    .option(
      '--stage <stage>',
      "keyrot's stage: with --yes the key the edge sends becomes the target's current-key reference keyrot/<stage>/<target>/current-key (edge account)",
      'prod',
    )
    .addHelpText(
      'after',
      examples(
        [
          'adopt --target kloudpepper-api-key --key-id a1b2c3d4e5 --edge-profile keyrot-edge',
          'check the key the edge sends can be adopted; changes nothing',
        ],
        [
          'adopt --target kloudpepper-api-key --key-id a1b2c3d4e5 --edge-profile keyrot-edge --yes',
          'tag it and record ADOPTED; the next rotation retires it',
        ],
      ),
    )
    .action(withContext((ctx, opts: AdoptOptions) => adopt(ctx, opts)));

  const ledger = program.command('ledger').description('read the rotation ledger');
  ledger
    .command('list')
    .description("a target's rotations and the rejected requests, newest first")
    .option('--target <name>', 'the target (default: the only known one)')
    .option('--limit <n>', 'how many rotations', '20')
    .option('--hide-rejected', 'leave out the requests the functions rejected (bad input)')
    .addHelpText(
      'after',
      examples(
        ['ledger list', "the only target's rotations and rejected requests, newest first"],
        [
          'ledger list --target kloudpepper-api-key --limit 5 --hide-rejected',
          'its last 5 rotations only',
        ],
      ),
    )
    .action(withContext((ctx, opts: ListOptions) => listRotations(ctx, opts)));
  ledger
    .command('show')
    .description("one rotation's full timeline")
    .argument('<rotationId>', 'the rotation id')
    .addHelpText(
      'after',
      examples([
        'ledger show rot_20261201T000000Z_1a2b3c4d5e6f',
        'who did what, when, with which key ids',
      ]),
    )
    .action(withContext((ctx, rotationId: string) => showRotation(ctx, rotationId)));
  ledger
    .command('export')
    .description('every step of the rotations that ended in a window (and those in flight)')
    .option('--since <date>', 'start, YYYY-MM-DD or ISO-8601 (default: a year ago)')
    .option('--until <date>', 'end (default: now)')
    .option('--target <name>', 'one target only')
    .addOption(
      new Option('--format <format>', 'export format').choices(['jsonl', 'csv']).default('jsonl'),
    )
    .addHelpText(
      'after',
      examples(
        [
          'ledger export --since 2026-11-01 > ledger.jsonl',
          'every step since November, one JSON line each',
        ],
        [
          'ledger export --since 2026-01-01 --until 2026-07-01 --format csv',
          'the first half-year as CSV',
        ],
      ),
    )
    .action(
      withContext((ctx, opts: Parameters<typeof exportLedger>[1]) => exportLedger(ctx, opts)),
    );

  program
    .command('doctor')
    .description(
      "before a rotation: each target's resources, the partner bus, the KMS key, the roles (read-only)",
    )
    .option('--target <name>', 'the target to check (default: every known target)')
    .option('--stage <stage>', "the stacks' stage (role and alias names)", 'prod')
    .option(
      '--kms-key <key>',
      "the edge's KMS key: ARN, id or alias (default: alias/keyrot-<stage>-edge)",
    )
    .addHelpText(
      'after',
      examples(
        ['doctor --edge-profile keyrot-edge', 'every target; exit 7 if a check fails'],
        [
          'doctor --edge-profile keyrot-edge --stage dev --target kloudpepper-api-key',
          'one target of the dev stacks',
        ],
      ),
    )
    .action(withContext((ctx, opts: DoctorOptions) => doctor(ctx, opts)));

  program
    .command('redrive')
    .description(
      "a service's dead-letter queue: what it holds; put chosen events back where they belong",
    )
    .argument('[messageIds...]', 'the messages to redrive (a unique prefix of the id is enough)')
    .requiredOption(
      '--queue <queue>',
      'queue URL or ARN, or a service: key-issuer, edge-updater (edge account), key-reaper',
    )
    .option('--stage <stage>', "the stacks' stage, for a queue named by service", 'prod')
    .option('--all', 'redrive every message')
    .option('--dry-run', 'show where each chosen event would go; change nothing')
    .option('--max <n>', 'most messages read', '100')
    .addHelpText(
      'after',
      examples(
        [
          'redrive --queue key-issuer',
          "what the issuer's dead-letter queue holds; changes nothing",
        ],
        [
          'redrive --queue edge-updater --edge-profile keyrot-edge --all --dry-run',
          'where each event would go',
        ],
        [
          'redrive --queue edge-updater --edge-profile keyrot-edge 3f2a9c1e',
          'put one message back, then delete it',
        ],
      ),
    )
    .action(withContext((ctx, ids: string[], opts: RedriveOptions) => redrive(ctx, ids, opts)));

  program
    .command('report')
    .description('compliance report: key age against the policy, rotations, failures, durations')
    .requiredOption('--since <date>', 'start, YYYY-MM-DD or ISO-8601')
    .option('--until <date>', 'end (default: now)')
    .addOption(
      new Option('--format <format>', 'report format').choices(['md', 'html', 'csv']).default('md'),
    )
    .option('--policy-days <days>', 'largest allowed key age', String(DEFAULT_KEY_AGE_POLICY_DAYS))
    .option('--target <name>', 'one target only')
    .addHelpText(
      'after',
      examples(
        ['report --since 2026-11-01', 'Markdown: per target and month, against the default policy'],
        [
          'report --since 2026-01-01 --format html > report.html',
          'one self-contained page for auditors',
        ],
      ),
    )
    .action(withContext((ctx, opts: Parameters<typeof report>[1]) => report(ctx, opts)));

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are not errors; commander already printed what it had to.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const failure = toCliError(error, {
      ...(context?.api.endpoint && { endpoint: context.api.endpoint }),
      table: context?.table ?? DEFAULT_TABLE,
    });
    streams.err(`keyrot: ${oneLine(failure.message)}\n`);
    return failure.exitCode;
  } finally {
    context?.close();
  }
}
