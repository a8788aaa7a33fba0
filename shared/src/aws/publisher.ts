import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { isRetryableAwsError, PublishError } from '../errors';
import { DETAIL_SCHEMAS, EVENT_SOURCE, type DetailOf, type DetailType } from '../events';

/** Port: puts one keyrot event on the account's bus. */
export interface EventPublisher {
  publish<T extends Exclude<DetailType, 'KeyRotationRequested'>>(
    detailType: T,
    detail: DetailOf[T],
  ): Promise<void>;
}

/** {@link EventPublisher} on EventBridge. Validates the detail against the contract first. */
export class EventBridgePublisher implements EventPublisher {
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
}
