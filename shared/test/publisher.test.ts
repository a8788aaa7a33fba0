import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { EventBridgePublisher, PublishError, type KeyRetired } from '../src';
import { failureOf, TARGET } from '../../test/support/fixtures';

const eventBridge = mockClient(EventBridgeClient);

const BUS = 'keyrot-api';

function newPublisher() {
  return new EventBridgePublisher(
    new EventBridgeClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    }),
    BUS,
  );
}

const retired: KeyRetired = {
  version: 1,
  rotationId: 'rot_20261125T090000Z_abc123',
  target: TARGET,
  newKey: { id: 'new0000001', fingerprint: '0123456789ab' },
  retiredKeys: [{ id: 'old0000001', fingerprint: 'ba9876543210' }],
  completedAt: '2026-11-25T09:10:00.000Z',
};

afterEach(() => {
  eventBridge.reset();
});

describe('EventBridgePublisher', () => {
  it('puts one keyrot event on the bus with the detail as JSON', async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });

    await newPublisher().publish('KeyRetired', retired);

    const entries = eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries;
    expect(entries).toHaveLength(1);
    expect(entries?.[0]).toMatchObject({
      EventBusName: BUS,
      Source: 'keyrot',
      DetailType: 'KeyRetired',
    });
    expect(JSON.parse(entries?.[0]?.Detail ?? '')).toEqual(retired);
  });

  it('reports a rejected entry (FailedEntryCount) as certainly not published', async () => {
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'AccessDeniedException', ErrorMessage: 'not allowed' }],
    });

    const error = await failureOf(newPublisher().publish('KeyRetired', retired));

    expect(error).toBeInstanceOf(PublishError);
    expect((error as PublishError).notPublished).toBe(true);
    expect((error as Error).message).toContain('KeyRetired');
  });

  it('reports a client-side refusal (4xx) as certainly not published', async () => {
    const refused = Object.assign(new Error('bus does not exist'), {
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 400 },
    });
    eventBridge.on(PutEventsCommand).rejects(refused);

    const error = await failureOf(newPublisher().publish('KeyRetired', retired));

    expect(error).toBeInstanceOf(PublishError);
    expect((error as PublishError).notPublished).toBe(true);
  });

  it('reports a network failure or a server error as possibly published', async () => {
    eventBridge
      .on(PutEventsCommand)
      .rejectsOnce(new Error('socket hang up'))
      .rejectsOnce(
        Object.assign(new Error('internal'), {
          name: 'InternalException',
          $metadata: { httpStatusCode: 500 },
        }),
      );
    const publisher = newPublisher();

    for (let i = 0; i < 2; i++) {
      const error = await failureOf(publisher.publish('KeyRetired', retired));
      expect(error).toBeInstanceOf(PublishError);
      expect((error as PublishError).notPublished).toBe(false);
    }
  });

  it('validates the detail against its schema before sending anything', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{}] });
    const invalid = { ...retired, newKey: { id: 'new0000001', fingerprint: 'not-a-fingerprint' } };

    await expect(newPublisher().publish('KeyRetired', invalid)).rejects.toThrow();
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });

  it('refuses a detail carrying fields outside the contract (e.g. a plain key value)', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{}] });
    const leaky = { ...retired, value: 'PLAINvalueMUSTneverBEsent000000000000' };

    await expect(newPublisher().publish('KeyRetired', leaky)).rejects.toThrow();
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });
});

describe('EventBridgePublisher.publishRequests', () => {
  const requests = Array.from({ length: 23 }, (_, i) => ({
    version: 1 as const,
    target: { ...TARGET, name: `target-${i}` },
    reason: 'scheduled' as const,
    rotationId: `rot_20261125T090000Z_fan_${String(i).padStart(4, '0')}`,
  }));

  it('puts one KeyRotationRequested per request, at most 10 entries per PutEvents', async () => {
    eventBridge.on(PutEventsCommand).callsFake(({ Entries }: { Entries: unknown[] }) => ({
      FailedEntryCount: 0,
      Entries: Entries.map((_, i) => ({ EventId: `e${i}` })),
    }));

    await newPublisher().publishRequests(requests);

    const calls = eventBridge.commandCalls(PutEventsCommand);
    expect(calls.map((c) => c.args[0].input.Entries?.length)).toEqual([10, 10, 3]);
    const entries = calls.flatMap((c) => c.args[0].input.Entries ?? []);
    expect(entries.map((e) => JSON.parse(e.Detail ?? '{}').target.name)).toEqual(
      requests.map((r) => r.target.name),
    );
    expect(entries.every((e) => e.DetailType === 'KeyRotationRequested')).toBe(true);
  });

  it('puts again the entries EventBridge refused, and only those', async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 1,
        Entries: [{ EventId: 'e0' }, { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow' }],
      })
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });

    await newPublisher().publishRequests(requests.slice(0, 2));

    const calls = eventBridge.commandCalls(PutEventsCommand);
    expect(calls).toHaveLength(2);
    expect(JSON.parse(calls[1]!.args[0].input.Entries![0]!.Detail!).target.name).toBe('target-1');
  });

  it('throws PublishError when entries stay refused', async () => {
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'slow' }],
    });

    await expect(newPublisher().publishRequests(requests.slice(0, 1))).rejects.toBeInstanceOf(
      PublishError,
    );
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(3);
  });
});
