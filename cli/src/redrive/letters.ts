/**
 * What a keyrot dead-letter queue holds (docs/operations.md, "DeadLetterQueue"), read from one
 * SQS message. Three senders write there:
 *
 * - Lambda, a function's on-failure destination: the body is Lambda's invocation record,
 *   `{version, timestamp, requestContext: {requestId, functionArn, condition,
 *   approximateInvokeCount}, requestPayload, responseContext: {statusCode, executedVersion,
 *   functionError}, responsePayload: {errorType, errorMessage, ...}}`; the event is
 *   `requestPayload`. `EventAgeExceeded` records have no `responsePayload`.
 * - EventBridge, a rule target's dead-letter queue: the body is the event; message attributes
 *   `RULE_ARN`, `TARGET_ARN`, `ERROR_CODE`, `ERROR_MESSAGE`.
 * - EventBridge Scheduler (the edge-updater's re-checks): the body is the schedule's input, an
 *   `EdgeDeploymentCheck` detail; message attribute `SCHEDULE_ARN`.
 */
import type { Message } from '@aws-sdk/client-sqs';
import { EVENT_SOURCE } from '@keyrot/shared';

export type Sender = 'lambda' | 'eventbridge' | 'scheduler' | 'unknown';

/** The event to put back, as PutEvents wants it (plus the account that emitted it). */
export interface LostEvent {
  readonly source: string;
  readonly detailType: string;
  readonly detail: Record<string, unknown>;
  /** The envelope's `account`; undefined for a re-check (the schedule's own account). */
  readonly account?: string;
}

export interface DeadLetter {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly sender: Sender;
  /** Undefined when the body is not an event keyrot can read. */
  readonly event?: LostEvent;
  readonly rotationId: string | null;
  readonly target: string | null;
  /** Why it was dead-lettered, in the sender's words. */
  readonly error: string;
  /** When the sender put it in the queue (SentTimestamp), ISO-8601. */
  readonly sentAt: string | null;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

function parseJson(body: string | undefined): unknown {
  try {
    return JSON.parse(body ?? '');
  } catch {
    return undefined;
  }
}

/** An EventBridge envelope (`source`, `detail-type`, `detail`) as a {@link LostEvent}. */
function eventOf(envelope: unknown): LostEvent | undefined {
  if (!isObject(envelope)) return undefined;
  const source = text(envelope.source);
  const detailType = text(envelope['detail-type']);
  if (!source || !detailType || !isObject(envelope.detail)) return undefined;
  const account = text(envelope.account);
  return { source, detailType, detail: envelope.detail, ...(account && { account }) };
}

/** The rotation and target an event's detail names (structured or the seed's flat form). */
function namesOf(detail: Json | undefined): { rotationId: string | null; target: string | null } {
  if (!detail) return { rotationId: null, target: null };
  const target = isObject(detail.target) ? text(detail.target.name) : text(detail.target);
  return {
    rotationId: text(detail.rotationId) ?? null,
    target: target ?? text(detail.API_KEY_NAME) ?? null,
  };
}

function attribute(message: Message, name: string): string | undefined {
  return text(message.MessageAttributes?.[name]?.StringValue);
}

/** Reads one message of a keyrot dead-letter queue. */
export function readDeadLetter(message: Message): DeadLetter {
  const body = parseJson(message.Body);
  const sent = Number(message.Attributes?.SentTimestamp);
  const base = {
    messageId: message.MessageId ?? '?',
    receiptHandle: message.ReceiptHandle ?? '',
    sentAt: Number.isFinite(sent) && sent > 0 ? new Date(sent).toISOString() : null,
  };
  let sender: Sender = 'unknown';
  let event: LostEvent | undefined;
  let error = 'unknown: the body is neither an event nor a Lambda record';
  if (isObject(body) && isObject(body.requestContext) && 'requestPayload' in body) {
    sender = 'lambda';
    event = eventOf(body.requestPayload);
    const context = body.requestContext;
    const response = isObject(body.responsePayload) ? body.responsePayload : undefined;
    const condition = text(context.condition) ?? 'failed';
    const cause = response
      ? `${text(response.errorType) ?? 'Error'}: ${text(response.errorMessage) ?? ''}`.trim()
      : 'no response (the function did not run in time)';
    error = `${condition} after ${String(context.approximateInvokeCount ?? '?')} attempts of ${functionName(text(context.functionArn))}: ${cause}`;
  } else if (attribute(message, 'SCHEDULE_ARN')) {
    sender = 'scheduler';
    if (isObject(body)) {
      event = { source: EVENT_SOURCE, detailType: 'EdgeDeploymentCheck', detail: body };
    }
    error = `${attribute(message, 'ERROR_CODE') ?? 'Scheduler'}: ${attribute(message, 'ERROR_MESSAGE') ?? `could not put ${attribute(message, 'SCHEDULE_ARN')}`}`;
  } else if (attribute(message, 'ERROR_CODE') || attribute(message, 'RULE_ARN')) {
    sender = 'eventbridge';
    event = eventOf(body);
    error = `${attribute(message, 'ERROR_CODE') ?? 'EventBridge'}: ${attribute(message, 'ERROR_MESSAGE') ?? ''} (target ${attribute(message, 'TARGET_ARN') ?? '?'})`;
  } else if (eventOf(body)) {
    event = eventOf(body);
    error = 'no error recorded';
  }
  return { ...base, sender, ...(event && { event }), ...namesOf(event?.detail), error };
}

/** `keyrot-edge-updater-prod-updateEdge` from a function ARN (qualifier dropped). */
function functionName(arn: string | undefined): string {
  if (!arn) return 'the function';
  const parts = arn.split(':');
  return parts[6] ?? arn;
}
