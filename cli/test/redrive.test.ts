import { redriveRoute } from '../src/redrive/route';
import { readDeadLetter } from '../src/redrive/letters';

const accounts = { api: '111111111111', edge: '222222222222' };

describe('redriveRoute', () => {
  it.each([
    ['KeyRotationRequested', accounts.api, 'api'],
    // The edge-updater's rule on the edge bus matches only the API account's KeyCreated, which
    // the API bus forwards: put back on the edge bus as the edge account it would be dropped.
    ['KeyCreated', accounts.api, 'api'],
    ['EdgeUpdated', accounts.edge, 'edge'],
    ['RotationFailed', accounts.edge, 'edge'],
    ['EdgeDeploymentCheck', accounts.edge, 'edge'],
  ])('%s of %s goes back on the %s bus', (detailType, account, side) => {
    expect(redriveRoute(detailType, account, accounts).side).toBe(side);
  });

  it.each([
    ['RotationFailed', accounts.api],
    // Without --edge-profile the "edge" credentials are the API account's.
    ['RotationFailed', '333333333333'],
    ['KeyRetired', accounts.api],
    ['SomethingElse', accounts.api],
  ])('%s of %s is not redriven, with the reason', (detailType, account) => {
    const route = redriveRoute(detailType, account, accounts);
    expect(route.side).toBeNull();
    expect(route.why).not.toBe('');
  });

  it('in single-account mode a RotationFailed goes on the one bus', () => {
    const one = { api: accounts.api, edge: accounts.api };
    expect(redriveRoute('RotationFailed', accounts.api, one).side).toBe('edge');
  });
});

describe('readDeadLetter', () => {
  const envelope = {
    id: 'evt-1',
    account: accounts.api,
    source: 'keyrot',
    'detail-type': 'KeyCreated',
    time: '2026-12-01T00:00:00Z',
    detail: { version: 1, rotationId: 'rot_20261201T000000Z_abc', target: { name: 'api-key' } },
  };

  it("reads Lambda's on-failure record: the event is requestPayload", () => {
    const letter = readDeadLetter({
      MessageId: 'm-1',
      ReceiptHandle: 'r-1',
      Attributes: { SentTimestamp: '1764547200000' },
      Body: JSON.stringify({
        version: '1.0',
        requestContext: {
          functionArn:
            'arn:aws:lambda:eu-west-1:222222222222:function:keyrot-edge-updater-prod-updateEdge:$LATEST',
          condition: 'RetriesExhausted',
          approximateInvokeCount: 3,
        },
        requestPayload: envelope,
        responsePayload: { errorType: 'AwsCallError', errorMessage: 'PutItem failed' },
      }),
    });
    expect(letter).toMatchObject({
      sender: 'lambda',
      event: { source: 'keyrot', detailType: 'KeyCreated', account: accounts.api },
      rotationId: 'rot_20261201T000000Z_abc',
      target: 'api-key',
      error:
        'RetriesExhausted after 3 attempts of keyrot-edge-updater-prod-updateEdge: AwsCallError: PutItem failed',
      sentAt: '2025-12-01T00:00:00.000Z',
    });
  });

  it('an EventAgeExceeded record has no response', () => {
    const letter = readDeadLetter({
      MessageId: 'm-2',
      Body: JSON.stringify({
        requestContext: { condition: 'EventAgeExceeded', approximateInvokeCount: 0 },
        requestPayload: envelope,
      }),
    });
    expect(letter.error).toMatch(/^EventAgeExceeded .*no response/);
  });

  it("reads EventBridge's message: the body is the event, the attributes the error", () => {
    const letter = readDeadLetter({
      MessageId: 'm-3',
      Body: JSON.stringify({ ...envelope, 'detail-type': 'EdgeUpdated', account: accounts.edge }),
      MessageAttributes: {
        ERROR_CODE: { DataType: 'String', StringValue: 'NO_PERMISSIONS' },
        ERROR_MESSAGE: { DataType: 'String', StringValue: 'AccessDenied on PutEvents' },
        TARGET_ARN: { DataType: 'String', StringValue: 'arn:aws:events:bus' },
      },
    });
    expect(letter).toMatchObject({
      sender: 'eventbridge',
      event: { detailType: 'EdgeUpdated', account: accounts.edge },
      error: 'NO_PERMISSIONS: AccessDenied on PutEvents (target arn:aws:events:bus)',
    });
  });

  it("reads Scheduler's message: the body is an EdgeDeploymentCheck detail", () => {
    const letter = readDeadLetter({
      MessageId: 'm-4',
      Body: JSON.stringify({ version: 1, rotationId: 'rot_x', target: { name: 'api-key' } }),
      MessageAttributes: { SCHEDULE_ARN: { DataType: 'String', StringValue: 'arn:sched' } },
    });
    expect(letter).toMatchObject({
      sender: 'scheduler',
      event: { source: 'keyrot', detailType: 'EdgeDeploymentCheck' },
      rotationId: 'rot_x',
    });
  });

  it('a body that is no event is unknown and has no event to redrive', () => {
    const letter = readDeadLetter({ MessageId: 'm-5', Body: 'not json' });
    expect(letter.sender).toBe('unknown');
    expect(letter.event).toBeUndefined();
  });
});
