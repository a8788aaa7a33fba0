/**
 * A function that fails must leave a message an alarm sees. EventBridge and the schedule
 * invoke keyrot's functions asynchronously: EventBridge hands the event to Lambda's queue
 * and is done (a rule target's dead-letter queue only receives events it could not hand
 * over), and Lambda retries a failing invocation, then discards the event unless the
 * function has an on-failure destination. These tests check, on the templates
 * `npm run package` wrote, that every asynchronously invoked function sends its failures to
 * its service's dead-letter queue, that its role may do exactly that, and that the DLQ alarm
 * watches that queue; the negative controls show the check fails on a template without
 * each piece.
 */
import path from 'node:path';
import { loadSubscriptions } from '../../harness/subscriptions';
import {
  asList,
  loadTemplate,
  resourcesOfType,
  roleIdOf,
  resourceText,
  roleStatements,
  type Json,
  type Resource,
  type Template,
} from './template';

const TEMPLATES = [
  'key-issuer',
  'edge-updater',
  'key-reaper',
  'key-issuer.single-account',
  'edge-updater.single-account',
] as const;
type Name = (typeof TEMPLATES)[number];
const templates = Object.fromEntries(TEMPLATES.map((n) => [n, loadTemplate(n)])) as Record<
  Name,
  Template
>;

/** The functions each service's serverless.yml gives an `eventBridge` or `schedule` event. */
const ASYNC_FUNCTIONS: Record<Name, string[]> = {
  'key-issuer': ['IssueKeyLambdaFunction'],
  'key-issuer.single-account': ['IssueKeyLambdaFunction'],
  'edge-updater': [
    'AwaitDeploymentLambdaFunction',
    'CheckEdgeLambdaFunction',
    'UpdateEdgeLambdaFunction',
  ],
  'edge-updater.single-account': [
    'AwaitDeploymentLambdaFunction',
    'CheckEdgeLambdaFunction',
    'UpdateEdgeLambdaFunction',
  ],
  'key-reaper': [
    'CheckDriftLambdaFunction',
    'CheckRotationsLambdaFunction',
    'RetireKeysLambdaFunction',
  ],
};

/** Functions whose events are superseded within the hour: kept 1 h, not 6. */
const HOURLY = [
  'CheckRotationsLambdaFunction',
  'CheckEdgeLambdaFunction',
  'CheckDriftLambdaFunction',
];

/** Lambda's limits for asynchronous invocation. */
const MAX_RETRY_ATTEMPTS = 2;
const MAX_EVENT_AGE_SECONDS = 21_600;

const DLQ = 'DeadLetterQueue';
const getAtt = (id: string, attribute: string) => ({ 'Fn::GetAtt': [id, attribute] });
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Functions some EventBridge rule (an event pattern or a schedule) invokes. */
function asyncInvokedFunctions(template: Template): string[] {
  const functions = new Set(resourcesOfType(template, 'AWS::Lambda::Function').map(([id]) => id));
  const invoked = resourcesOfType(template, 'AWS::Events::Rule').flatMap(([, rule]) =>
    ((rule.Properties!.Targets ?? []) as { Arn: Json }[]).flatMap((target) => {
      const arn = target.Arn as { 'Fn::GetAtt'?: [string, string] };
      const id = arn['Fn::GetAtt']?.[0];
      return id !== undefined && functions.has(id) ? [id] : [];
    }),
  );
  return [...new Set(invoked)].sort();
}

/**
 * What is wrong with how `template` routes its functions' failures (empty: nothing). Every
 * asynchronously invoked function needs, on the version its rules invoke (unqualified ARN:
 * `$LATEST`), an EventInvokeConfig whose OnFailure destination is the service's
 * dead-letter queue, with explicit retries and event age; its role may send to that queue
 * and to no other; and the DLQ alarm watches the queue.
 */
function failureRoutingProblems(template: Template): string[] {
  const problems: string[] = [];
  const queue = template.Resources[DLQ];
  if (queue?.Type !== 'AWS::SQS::Queue') problems.push(`no ${DLQ} queue`);
  const configs = resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig');
  const functions = Object.fromEntries(resourcesOfType(template, 'AWS::Lambda::Function'));
  const roles = new Set<string>();

  for (const fn of asyncInvokedFunctions(template)) {
    const role = roleIdOf(functions[fn]?.Properties?.Role);
    if (role === undefined) problems.push(`${fn}: role is not a role of this template`);
    else roles.add(role);
    const mine = configs.filter(([, c]) => same(c.Properties!.FunctionName, { Ref: fn }));
    if (mine.length !== 1) {
      problems.push(`${fn}: ${mine.length} EventInvokeConfigs, expected 1`);
      continue;
    }
    const props = mine[0]![1].Properties as {
      Qualifier?: string;
      DestinationConfig?: { OnFailure?: { Destination?: Json } };
      MaximumRetryAttempts?: number;
      MaximumEventAgeInSeconds?: number;
    };
    if (props.Qualifier !== '$LATEST') {
      problems.push(`${fn}: config is for ${props.Qualifier}, its rules invoke $LATEST`);
    }
    const destination = props.DestinationConfig?.OnFailure?.Destination;
    if (!same(destination, getAtt(DLQ, 'Arn'))) {
      problems.push(`${fn}: on-failure destination is ${JSON.stringify(destination)}`);
    }
    const retries = props.MaximumRetryAttempts;
    if (retries === undefined || retries < 0 || retries > MAX_RETRY_ATTEMPTS) {
      problems.push(`${fn}: MaximumRetryAttempts ${retries} not stated or out of range`);
    }
    const age = props.MaximumEventAgeInSeconds;
    if (age === undefined || age < 60 || age > MAX_EVENT_AGE_SECONDS) {
      problems.push(`${fn}: MaximumEventAgeInSeconds ${age} not stated or out of range`);
    }
  }

  // Lambda sends to the destination with the function's execution role.
  for (const role of roles) {
    const sqs = roleStatements(template)
      .filter((s) => s.role === role)
      .map((s) => s.statement)
      .filter((s) => asList(s.Action).some((a) => a.startsWith('sqs:') || a === '*'));
    const grants = sqs.flatMap((s) =>
      s.Effect !== 'Allow'
        ? []
        : asList(s.Action).flatMap((action) =>
            asList(s.Resource).map((r) => `${action} ${resourceText(r)}`),
          ),
    );
    const wanted = `sqs:SendMessage ${resourceText(getAtt(DLQ, 'Arn'))}`;
    if (!grants.includes(wanted)) problems.push(`${role}: may not sqs:SendMessage to ${DLQ}`);
    for (const grant of new Set(grants)) {
      if (grant !== wanted) problems.push(`${role}: also grants ${grant}`);
    }
  }

  const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm').filter(([, alarm]) =>
    same(
      (alarm.Properties!.Dimensions as Json[] | undefined)?.find(
        (d) => (d as { Name?: string }).Name === 'QueueName',
      ),
      { Name: 'QueueName', Value: getAtt(DLQ, 'QueueName') },
    ),
  );
  const watching = alarms.filter(([, alarm]) => {
    const p = alarm.Properties!;
    return (
      p.Namespace === 'AWS/SQS' &&
      p.MetricName === 'ApproximateNumberOfMessagesVisible' &&
      Number(p.Threshold) <= 1 &&
      p.ComparisonOperator === 'GreaterThanOrEqualToThreshold' &&
      asList(p.AlarmActions as Json[] | undefined).length > 0
    );
  });
  if (watching.length === 0) problems.push(`no alarm on messages in ${DLQ}`);
  return problems;
}

/** A deep copy of `template` with `change` applied to its resources. */
function variant(template: Template, change: (resources: Record<string, Resource>) => void) {
  const copy = JSON.parse(JSON.stringify(template)) as Template;
  change(copy.Resources as Record<string, Resource>);
  return copy;
}

/** A copy of `template` without the resources `drop` picks. */
function without(template: Template, drop: (id: string, resource: Resource) => boolean) {
  const copy = JSON.parse(JSON.stringify(template)) as Template;
  const Resources = Object.fromEntries(
    Object.entries(copy.Resources).filter(([id, resource]) => !drop(id, resource)),
  );
  return { ...copy, Resources };
}

describe.each(TEMPLATES)('failed invocations in the %s template', (name) => {
  const template = templates[name];

  it('finds the functions with an eventBridge or schedule event', () => {
    expect(asyncInvokedFunctions(template)).toEqual(ASYNC_FUNCTIONS[name]);
  });

  it("sends each one's failures to the service's dead-letter queue, which the DLQ alarm watches", () => {
    expect(failureRoutingProblems(template)).toEqual([]);
  });

  it("retries twice (Lambda's default, stated) and keeps an event up to 6 h (1 h for the hourly checks)", () => {
    const stated = resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig').map(([, c]) => [
      (c.Properties!.FunctionName as { Ref: string }).Ref,
      c.Properties!.MaximumRetryAttempts,
      c.Properties!.MaximumEventAgeInSeconds,
    ]);
    expect(stated.sort()).toEqual(
      ASYNC_FUNCTIONS[name].map((fn) => [
        fn,
        2,
        // The hourly checks and the drift guard: the next hour's check supersedes a late one.
        HOURLY.includes(fn) ? 3600 : 21_600,
      ]),
    );
  });
});

describe('the local event runner', () => {
  it('retries each function as often as its deployed EventInvokeConfig says, then dead-letters', () => {
    const subscriptions = loadSubscriptions(path.resolve(__dirname, '..', '..'), {});
    expect(subscriptions.length).toBeGreaterThan(0);
    for (const sub of subscriptions) {
      const template = templates[sub.service];
      const logicalId = `${sub.functionName[0]!.toUpperCase()}${sub.functionName.slice(1)}LambdaFunction`;
      const [, config] = resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig').find(([, c]) =>
        same(c.Properties!.FunctionName, { Ref: logicalId }),
      )!;
      expect({ fn: logicalId, retries: sub.maximumRetryAttempts }).toEqual({
        fn: logicalId,
        retries: config.Properties!.MaximumRetryAttempts,
      });
    }
  });
});

describe('negative controls: the check fails on a template', () => {
  const template = templates['edge-updater'];
  const withoutConfig = (fn: string) =>
    without(
      template,
      (_, r) =>
        r.Type === 'AWS::Lambda::EventInvokeConfig' &&
        same(r.Properties!.FunctionName, { Ref: fn }),
    );
  const statementsOf = (resources: Record<string, Resource>) =>
    (
      resources.UpdateEdgeRole!.Properties!.Policies as unknown as {
        PolicyDocument: { Statement: { Effect: string; Action: Json; Resource: Json }[] };
      }[]
    )[0]!.PolicyDocument;

  it('without the EventInvokeConfig of one function', () => {
    expect(failureRoutingProblems(withoutConfig('AwaitDeploymentLambdaFunction'))).toEqual([
      'AwaitDeploymentLambdaFunction: 0 EventInvokeConfigs, expected 1',
    ]);
  });

  it('whose on-failure destination is another queue, or a version the rules do not invoke', () => {
    const elsewhere = variant(template, (resources) => {
      resources.UpdateEdgeLambdaEvConf!.Properties!.DestinationConfig = {
        OnFailure: { Destination: getAtt('SomeOtherQueue', 'Arn') },
      };
      (resources.AwaitDeploymentLambdaEvConf!.Properties as Record<string, Json>).Qualifier =
        'live';
    });
    expect(failureRoutingProblems(elsewhere)).toEqual([
      'AwaitDeploymentLambdaFunction: config is for live, its rules invoke $LATEST',
      expect.stringContaining('UpdateEdgeLambdaFunction: on-failure destination is'),
    ]);
  });

  it('without explicit retries and event age', () => {
    const implicit = variant(template, (resources) => {
      const props = resources.UpdateEdgeLambdaEvConf!.Properties as Record<string, Json>;
      delete props.MaximumRetryAttempts;
      delete props.MaximumEventAgeInSeconds;
    });
    expect(failureRoutingProblems(implicit)).toEqual([
      'UpdateEdgeLambdaFunction: MaximumRetryAttempts undefined not stated or out of range',
      'UpdateEdgeLambdaFunction: MaximumEventAgeInSeconds undefined not stated or out of range',
    ]);
  });

  it('whose role may not send to the queue, or may send to more than it', () => {
    const denied = variant(template, (resources) => {
      const doc = statementsOf(resources);
      doc.Statement = doc.Statement.filter(
        (s) => !asList(s.Action as string).includes('sqs:SendMessage'),
      );
    });
    expect(failureRoutingProblems(denied)).toEqual([
      'UpdateEdgeRole: may not sqs:SendMessage to DeadLetterQueue',
    ]);
    const wider = variant(template, (resources) => {
      statementsOf(resources).Statement.push(
        {
          Effect: 'Allow',
          Action: 'sqs:SendMessage',
          Resource: 'arn:aws:sqs:us-east-1:222222222222:other',
        },
        { Effect: 'Allow', Action: ['sqs:ReceiveMessage'], Resource: getAtt(DLQ, 'Arn') },
      );
    });
    expect(failureRoutingProblems(wider)).toEqual([
      'UpdateEdgeRole: also grants sqs:SendMessage arn:aws:sqs:us-east-1:222222222222:other',
      `UpdateEdgeRole: also grants sqs:ReceiveMessage ${resourceText(getAtt(DLQ, 'Arn'))}`,
    ]);
  });

  it('whose DLQ alarm is missing or watches another queue', () => {
    const unwatched = without(template, (id) => id === 'DeadLetterQueueAlarm');
    expect(failureRoutingProblems(unwatched)).toEqual(['no alarm on messages in DeadLetterQueue']);
    const elsewhere = variant(template, (resources) => {
      resources.DeadLetterQueueAlarm!.Properties!.Dimensions = [
        { Name: 'QueueName', Value: 'some-other-queue' },
      ];
    });
    expect(failureRoutingProblems(elsewhere)).toEqual(['no alarm on messages in DeadLetterQueue']);
  });

  it('that never had destinations: every function fails the check', () => {
    const before = without(template, (_, r) => r.Type === 'AWS::Lambda::EventInvokeConfig');
    expect(failureRoutingProblems(before)).toEqual(
      ASYNC_FUNCTIONS['edge-updater'].map((fn) => `${fn}: 0 EventInvokeConfigs, expected 1`),
    );
  });
});
