import path from 'node:path';
import * as edgeUpdater from '../../services/edge-updater/src/handler';
import * as keyIssuer from '../../services/key-issuer/src/handler';
import * as keyReaper from '../../services/key-reaper/src/handler';
import { loadSubscriptions, type ServiceName } from '../subscriptions';

const ROOT = path.resolve(__dirname, '../..');
const PARAMS = {
  region: 'us-east-1',
  apiAccountId: '111111111111',
  edgeAccountId: '222222222222',
  busName: 'keyrot',
};
const MODULES: Record<ServiceName, Record<string, unknown>> = {
  'key-issuer': keyIssuer,
  'edge-updater': edgeUpdater,
  'key-reaper': keyReaper,
};

describe('subscriptions read from serverless.yml', () => {
  const subscriptions = loadSubscriptions(ROOT, PARAMS);

  it("name each function's own handler export", () => {
    expect(
      subscriptions.map((s) => [s.service, s.functionName, s.handler, s.pattern['detail-type']]),
    ).toEqual([
      ['key-issuer', 'issueKey', 'handler', ['KeyRotationRequested']],
      ['edge-updater', 'updateEdge', 'updateEdge', ['KeyCreated', 'EdgeHealRequested']],
      ['edge-updater', 'updateEdge', 'updateEdge', ['EdgeUpdateRetry']],
      ['edge-updater', 'awaitDeployment', 'checkDeployment', ['EdgeDeploymentCheck']],
      ['key-reaper', 'retireKeys', 'handler', ['EdgeUpdated', 'RotationFailed']],
      ['key-reaper', 'retireKeys', 'handler', ['RetireRetry']],
      ['key-reaper', 'checkDrift', 'drift', ['EdgeObserved', 'EdgeHealed', 'EdgeHealFailed']],
    ]);
  });

  it('each handler is a function src/handler.ts exports', () => {
    for (const sub of subscriptions) {
      expect([sub.functionName, typeof MODULES[sub.service][sub.handler]]).toEqual([
        sub.functionName,
        'function',
      ]);
    }
  });
});
