import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import type { CliContext } from '../context';
import { AwsUnavailableError, EXIT, UsageError, type ExitCode } from '../errors';
import { accountOf } from '../identity';
import { render, type Column } from '../output';
import { readDeadLetter, type DeadLetter } from '../redrive/letters';
import { redriveRoute, type Side } from '../redrive/route';
import { parseCount } from '../time';

/** Each service's dead-letter queue is in the account its functions run in. */
export const SERVICE_SIDES = {
  'key-issuer': 'api',
  'key-reaper': 'api',
  'edge-updater': 'edge',
} as const satisfies Record<string, Side>;
export type ServiceName = keyof typeof SERVICE_SIDES;

export interface RedriveOptions {
  /** A queue URL, a queue ARN, or a service name (`key-issuer`, `edge-updater`, `key-reaper`). */
  readonly queue: string;
  readonly stage: string;
  /** Redrive every message (that can be). */
  readonly all?: boolean;
  readonly dryRun?: boolean;
  /** Most messages read. */
  readonly max: string;
}

/** A dead-letter queue, resolved: where it is and as whom it is read. */
export interface Queue {
  readonly url: string;
  readonly name: string;
  readonly account: string;
  readonly side: Side;
}

export interface RedriveRow {
  readonly id: string;
  readonly sender: DeadLetter['sender'];
  readonly detailType: string | null;
  readonly rotationId: string | null;
  readonly target: string | null;
  readonly sentAt: string | null;
  readonly ageSeconds: number | null;
  readonly error: string;
  /** `listed`, `would redrive`, `redriven`, `skipped` or `failed`. */
  readonly action: string;
  /** Where it goes back (or went, or why not). */
  readonly detail: string;
}

const COLUMNS: readonly Column<RedriveRow>[] = [
  { header: 'message id', value: (r) => r.id },
  { header: 'sender', value: (r) => r.sender },
  { header: 'event', value: (r) => r.detailType },
  { header: 'rotation', value: (r) => r.rotationId },
  { header: 'target', value: (r) => r.target },
  { header: 'age', value: (r) => (r.ageSeconds === null ? 'unknown' : age(r.ageSeconds)) },
  { header: 'error', value: (r) => r.error },
  { header: 'action', value: (r) => r.action },
  { header: 'where', value: (r) => r.detail },
];

/** `3d 4h`, `2h 5m`, `12m`, `42s`. */
export function age(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** How long the CLI hides the messages it read from other readers while it works. */
const VISIBILITY_SECONDS = 120;

/**
 * `keyrot redrive`: reads a service's dead-letter queue and shows what it holds (event type,
 * rotation, target, error, age). With `--all` or message ids, puts each chosen event back
 * where a rule matches it ({@link redriveRoute}: the bus of the account that emitted it, as
 * that account) and deletes the message only once PutEvents accepted the entry
 * (FailedEntryCount 0). `--dry-run` says what it would do and changes nothing. Messages it
 * read and did not delete are made visible again at once.
 */
export async function redrive(
  ctx: CliContext,
  ids: readonly string[],
  options: RedriveOptions,
): Promise<ExitCode> {
  const max = parseCount('--max', options.max, 1000);
  if (options.all && ids.length > 0) {
    throw new UsageError('--all', 'give either --all or message ids, not both');
  }
  const queue = await resolveQueue(ctx, options.queue, options.stage);
  const messages = await receiveAll(ctx, queue, max);
  const letters = messages.map(readDeadLetter);
  const chosen = choose(letters, ids, options.all === true);
  const now = ctx.clock.now().getTime();
  const accounts = { api: await accountOf(ctx, 'api'), edge: await accountOf(ctx, 'edge') };
  const rows: RedriveRow[] = [];
  const deleted = new Set<string>();
  let failed = 0;
  try {
    for (const letter of letters) {
      const row = {
        id: letter.messageId,
        sender: letter.sender,
        detailType: letter.event?.detailType ?? null,
        rotationId: letter.rotationId,
        target: letter.target,
        sentAt: letter.sentAt,
        ageSeconds: letter.sentAt ? (now - Date.parse(letter.sentAt)) / 1000 : null,
        error: letter.error,
      };
      if (!chosen.has(letter.messageId)) {
        rows.push({ ...row, action: 'listed', detail: '' });
        continue;
      }
      const outcome = await redriveOne(ctx, letter, accounts, options.dryRun === true);
      if (outcome.action === 'redriven') {
        await ctx
          .sqs(queue.side)
          .send(
            new DeleteMessageCommand({ QueueUrl: queue.url, ReceiptHandle: letter.receiptHandle }),
          );
        deleted.add(letter.messageId);
      }
      if (outcome.action === 'failed') failed += 1;
      rows.push({ ...row, ...outcome });
    }
  } finally {
    await release(ctx, queue, messages, deleted);
  }
  if (ctx.output === 'table') {
    ctx.print(`queue ${queue.name} (account ${queue.account}): ${letters.length} message(s)\n`);
  }
  ctx.print(render(ctx.output, COLUMNS, rows, rows));
  if (letters.length > 0 && chosen.size === 0) {
    ctx.note('Nothing redriven: choose messages by id, or --all (with --dry-run to see where).');
  }
  for (const row of rows.filter((r) => r.action === 'skipped' || r.action === 'failed')) {
    ctx.streams.err(`keyrot: ${row.id} ${row.action}: ${row.detail}\n`);
  }
  return failed > 0 ? EXIT.aws : EXIT.ok;
}

/** The messages chosen by id (a unique prefix is enough), or all. */
function choose(letters: readonly DeadLetter[], ids: readonly string[], all: boolean): Set<string> {
  if (all) return new Set(letters.map((l) => l.messageId));
  const chosen = new Set<string>();
  for (const id of ids) {
    const matches = letters.filter((l) => l.messageId.startsWith(id));
    const [match] = matches;
    if (match === undefined || matches.length !== 1) {
      throw new UsageError(
        'messageId',
        matches.length === 0
          ? `no message "${id}" in the queue (${letters.length} read)`
          : `"${id}" names ${matches.length} messages: give more of the id`,
      );
    }
    chosen.add(match.messageId);
  }
  return chosen;
}

async function redriveOne(
  ctx: CliContext,
  letter: DeadLetter,
  accounts: { api: string; edge: string },
  dryRun: boolean,
): Promise<{ action: string; detail: string }> {
  const event = letter.event;
  if (!event) return { action: 'skipped', detail: 'the message holds no keyrot event' };
  const route = redriveRoute(event.detailType, event.account, accounts);
  if (route.side === null) return { action: 'skipped', detail: route.why };
  const account = accounts[route.side];
  if (event.account !== undefined && event.account !== account) {
    return {
      action: 'skipped',
      detail: `it came from account ${event.account}, but the ${route.side} credentials are account ${account}: pass ${route.side === 'edge' ? '--edge-profile' : '--profile'} for account ${event.account}`,
    };
  }
  const where = `${route.side} bus ${ctx.bus} as account ${account} (${route.why})`;
  if (dryRun) return { action: 'would redrive', detail: `to the ${where}` };
  const answer = await ctx.eventsOf(route.side).send(
    new PutEventsCommand({
      Entries: [
        {
          EventBusName: ctx.bus,
          Source: event.source,
          DetailType: event.detailType,
          Detail: JSON.stringify(event.detail),
        },
      ],
    }),
  );
  const entry = answer.Entries?.[0];
  if ((answer.FailedEntryCount ?? 0) !== 0 || !entry?.EventId) {
    return {
      action: 'failed',
      detail: `PutEvents refused it (${entry?.ErrorCode ?? 'no event id'}: ${entry?.ErrorMessage ?? ''}); the message stays in the queue`,
    };
  }
  return { action: 'redriven', detail: `to the ${where}: event ${entry.EventId}` };
}

/** Reads up to `max` messages, hiding each from other readers while the CLI works. */
async function receiveAll(ctx: CliContext, queue: Queue, max: number): Promise<Message[]> {
  const messages = new Map<string, Message>();
  while (messages.size < max) {
    const page = await ctx.sqs(queue.side).send(
      new ReceiveMessageCommand({
        QueueUrl: queue.url,
        MaxNumberOfMessages: Math.min(10, max - messages.size),
        VisibilityTimeout: VISIBILITY_SECONDS,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['SentTimestamp', 'ApproximateReceiveCount'],
      }),
    );
    let added = 0;
    for (const message of page.Messages ?? []) {
      if (!message.MessageId || messages.has(message.MessageId)) continue;
      messages.set(message.MessageId, message);
      added += 1;
    }
    if (added === 0) break;
  }
  return [...messages.values()];
}

/** Makes the messages read and not deleted visible again (for the next run, and the alarm). */
async function release(
  ctx: CliContext,
  queue: Queue,
  messages: readonly Message[],
  deleted: ReadonlySet<string>,
): Promise<void> {
  for (const message of messages) {
    if (deleted.has(message.MessageId ?? '')) continue;
    await ctx
      .sqs(queue.side)
      .send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queue.url,
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      )
      .catch(() => undefined);
  }
}

/**
 * The queue `--queue` names: a URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`),
 * an ARN (`arn:aws:sqs:<region>:<account>:<name>`) or a service (`edge-updater`, whose queue
 * `keyrot-edge-updater-<stage>-dlq` is in the edge account; the others' in the API account).
 * It is read with the credentials of the account that holds it.
 */
export async function resolveQueue(ctx: CliContext, spec: string, stage: string): Promise<Queue> {
  const service = spec.replace(/^keyrot-/, '');
  if (service in SERVICE_SIDES) {
    const side = SERVICE_SIDES[service as ServiceName];
    const name = `keyrot-${service}-${stage}-dlq`;
    const account = await accountOf(ctx, side);
    const url = await queueUrl(ctx, side, name, account);
    return { url, name, account, side };
  }
  let account: string | undefined;
  let name: string | undefined;
  let url: string | undefined;
  const arn = /^arn:aws[a-z-]*:sqs:[^:]*:(\d{12}):([^:]+)$/.exec(spec);
  if (arn) {
    [, account, name] = arn;
  } else if (/^https?:\/\//.test(spec)) {
    const [owner, queueName, ...rest] = new URL(spec).pathname.split('/').filter(Boolean);
    if (owner && queueName && rest.length === 0 && /^\d{12}$/.test(owner)) {
      [account, name] = [owner, queueName];
    }
    url = spec;
  }
  if (!account || !name) {
    throw new UsageError(
      '--queue',
      `"${spec}" is not a queue URL, a queue ARN or a service (${Object.keys(SERVICE_SIDES).join(', ')})`,
    );
  }
  const side = await sideOf(ctx, account);
  return { url: url ?? (await queueUrl(ctx, side, name, account)), name, account, side };
}

/** Which credentials hold `account`: the API account's, else the edge's; else a usage error. */
async function sideOf(ctx: CliContext, account: string): Promise<Side> {
  const api = await accountOf(ctx, 'api');
  if (api === account) return 'api';
  const edge = await accountOf(ctx, 'edge');
  if (edge === account) return 'edge';
  throw new UsageError(
    '--queue',
    `the queue is in account ${account}, but --profile is account ${api} and ${ctx.edgeCredentials === 'api' ? 'no --edge-profile was given' : `--edge-profile is account ${edge}`}: pass --edge-profile <a profile of account ${account}>`,
  );
}

async function queueUrl(ctx: CliContext, side: Side, name: string, account: string) {
  try {
    const answer = await ctx
      .sqs(side)
      .send(new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }));
    if (answer.QueueUrl) return answer.QueueUrl;
  } catch (error) {
    if (!/NonExistentQueue|QueueDoesNotExist/.test((error as Error).name)) throw error;
  }
  const hint =
    side === 'edge' && ctx.edgeCredentials === 'api'
      ? " (read with the API account's credentials: pass --edge-profile for the edge account)"
      : '';
  throw new AwsUnavailableError(`no queue ${name} in account ${account}${hint}`);
}
