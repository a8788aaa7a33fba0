/**
 * The deployed runner's CloudFront front (harness/deployed/aws-front.ts) must behave as
 * CloudFront does where moto does not: its `IfMatch` check and the write are one step. Two
 * targets on one distribution race exactly there; before the front held a write in flight,
 * both writers holding one ETag passed and the second undid the first's header.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AwsFront } from '../deployed/aws-front';

const ACCESS_KEY = 'ASIAFRONTTEST0000001';
const PATH = '/2020-05-31/distribution/E1TEST/config';

/**
 * A stand-in for moto: answers a read after `readMs` and an update after `writeMs`, counting
 * the updates it applied.
 */
async function slowMoto(readMs: number, writeMs: number) {
  const applied: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      setTimeout(
        () => {
          if (req.method === 'PUT') applied.push(body);
          res.writeHead(200, { 'content-type': 'text/xml' });
          res.end('<DistributionConfig><Status>Deployed</Status></DistributionConfig>');
        },
        req.method === 'PUT' ? writeMs : readMs,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    applied,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function call(endpoint: string, method: 'GET' | 'PUT', headers: Record<string, string> = {}) {
  return new Promise<{ status: number; etag: string }>((resolve, reject) => {
    const req = request(
      `${endpoint}${PATH}`,
      {
        method,
        headers: {
          authorization: `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/20260101/us-east-1/cloudfront/aws4_request`,
          ...headers,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, etag: String(res.headers.etag ?? '') }),
        );
      },
    );
    req.on('error', reject);
    req.end(
      method === 'PUT' ? `<DistributionConfig>${headers['x-writer']}</DistributionConfig>` : '',
    );
  });
}

describe("the deployed runner's CloudFront front", () => {
  let moto: Awaited<ReturnType<typeof slowMoto>>;
  let front: AwsFront;

  beforeEach(async () => {
    // A read slower than an update: the update started after it is applied first.
    moto = await slowMoto(150, 50);
    front = new AwsFront({
      motoEndpoint: moto.endpoint,
      authorizer: { authorize: () => Promise.resolve({ service: 'cloudfront', operation: 'x' }) },
      events: { putEvents: () => Promise.resolve([]) },
      propagationMs: 0,
    });
    front.registerPrincipal(ACCESS_KEY, {
      functionName: 'updateEdge',
      roleArn: 'arn:aws:iam::222222222222:role/r',
      accountId: '222222222222',
    });
    await front.start();
  });
  afterEach(async () => {
    await front.stop();
    await moto.stop();
  });

  it('refuses the second of two updates holding the same ETag while the first is applied', async () => {
    const { etag } = await call(front.endpoint, 'GET');
    const [a, b] = await Promise.all([
      call(front.endpoint, 'PUT', { 'if-match': etag, 'x-writer': 'a' }),
      call(front.endpoint, 'PUT', { 'if-match': etag, 'x-writer': 'b' }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 412]);
    expect(moto.applied).toHaveLength(1);
  });

  it('answers a read that an update overtook with the ETag it started on, so its write is refused', async () => {
    const { etag } = await call(front.endpoint, 'GET');
    const staleRead = call(front.endpoint, 'GET');
    const update = call(front.endpoint, 'PUT', { 'if-match': etag, 'x-writer': 'a' });
    const [read, written] = await Promise.all([staleRead, update]);
    expect(written.status).toBe(200);
    expect(read.etag).toBe(etag);
    const late = await call(front.endpoint, 'PUT', { 'if-match': read.etag, 'x-writer': 'b' });
    expect(late.status).toBe(412);
    expect(moto.applied).toHaveLength(1);
  });
});
