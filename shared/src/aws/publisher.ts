import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { isRetryableAwsError, PublishError } from '../errors';
import {
  DETAIL_SCHEMAS,
  EVENT_SOURCE,
  type DetailOf,
  type DetailType,
  type RotationRequest,
} from '../events';

/** Port: puts one keyrot event on the account's bus. */
export interface EventPublisher {
  publish<T extends Exclude<DetailType, 'KeyRotationRequested'>>(
    detailType: T,
    detail: DetailOf[T],
  ): Promise<void>;
}

/** Port: puts one `KeyRotationRequested` per target of a fan-out request. */
export interface RequestFanOut {
  /** Puts every request; throws {@link PublishError} if any could not be put. */
  publishRequests(requests: readonly (RotationRequest & { version: 1 })[]): Promise<void>;
}

/** PutEvents takes at most 10 entries per call. */
const PUT_EVENTS_MAX_ENTRIES = 10;
/** Rounds of re-putting entries EventBridge refused (throttled) before giving up. */
const FAILED_ENTRY_ROUNDS = 3;

/** {@link EventPublisher} on EventBridge. Validates the detail against the contract first. */
export class EventBridgePublisher implements EventPublisher, RequestFanOut {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async publish<T extends Exclude<DetailType, 'KeyRotationRequested'>>(
    detailType: T,
    detail: DetailOf[T],
  ) {
    const valid = DETAIL_SCHEMAS[detailType].safeParse(detail);
    if (!valid.success) throw new PublishError(this.busName, detailType, true, valid.error);
    let out;
    try {
      out = await this.client.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: this.busName,
              Source: EVENT_SOURCE,
              DetailType: detailType,
              Detail: JSON.stringify(detail),
            },
          ],
        }),
      );
    } catch (error) {
      // A 4xx other than throttling is a refusal; anything else may have been accepted.
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata
        ?.httpStatusCode;
      const refused = status !== undefined && status < 500 && !isRetryableAwsError(error);
      throw new PublishError(this.busName, detailType, refused, error);
    }
    const failed = out.Entries?.find((entry) => entry.ErrorCode);
    if (out.FailedEntryCount || failed) {
      const cause = Object.assign(new Error(failed?.ErrorMessage ?? 'entry rejected'), {
        name: failed?.ErrorCode ?? 'FailedEntry',
      });
      throw new PublishError(this.busName, detailType, true, cause);
    }
  }

  /**
   * Puts the requests in batches of 10 entries per `PutEvents`, re-putting the entries
   * EventBridge refused (it answers throttling per entry) up to three times.
   */
  async publishRequests(requests: readonly (RotationRequest & { version: 1 })[]) {
    const detailType = 'KeyRotationRequested';
    for (const request of requests) {
      const valid = DETAIL_SCHEMAS[detailType].safeParse(request);
      if (!valid.success) throw new PublishError(this.busName, detailType, true, valid.error);
    }
    let pending = requests.map((request) => ({
      EventBusName: this.busName,
      Source: EVENT_SOURCE,
      DetailType: detailType,
      Detail: JSON.stringify(request),
    }));
    for (let round = 0; round < FAILED_ENTRY_ROUNDS && pending.length > 0; round++) {
      const refused: typeof pending = [];
      for (let i = 0; i < pending.length; i += PUT_EVENTS_MAX_ENTRIES) {
        const batch = pending.slice(i, i + PUT_EVENTS_MAX_ENTRIES);
        let out;
        try {
          out = await this.client.send(new PutEventsCommand({ Entries: batch }));
        } catch (error) {
          throw new PublishError(this.busName, detailType, false, error);
        }
        (out.Entries ?? []).forEach((entry, j) => {
          if (entry.ErrorCode && batch[j]) refused.push(batch[j]);
        });
      }
      pending = refused;
    }
    if (pending.length > 0) {
      const cause = Object.assign(new Error(`${pending.length} entries refused`), {
        name: 'FailedEntry',
      });
      throw new PublishError(this.busName, detailType, false, cause);
    }
  }
}
