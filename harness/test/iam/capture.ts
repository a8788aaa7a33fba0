/**
 * Captures the raw, SigV4-signed requests real SDK clients send: a tiny local HTTP server
 * records each request and answers a minimal 200. No moto, no network beyond 127.0.0.1.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpCall } from '../../iam/describe-call';

export const CALLER_ACCOUNT = '111111111111';
export const EDGE_ACCOUNT = '222222222222';
export const REGION = 'us-east-1';

/** Client options for the capture server: static credentials, no retries. */
export function clientConfig(endpoint: string) {
  return {
    region: REGION,
    endpoint,
    credentials: { accessKeyId: 'AKIDCAPTURE000000001', secretAccessKey: 'capture-secret' },
    maxAttempts: 1,
  };
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** The minimal answer each protocol's parser accepts (XML for CloudFront, JSON otherwise). */
function answer(call: HttpCall): { contentType: string; body: string } {
  if (call.path.startsWith('/2020-05-31/')) {
    return { contentType: 'text/xml', body: '<?xml version="1.0" encoding="UTF-8"?><Empty/>' };
  }
  return { contentType: 'application/x-amz-json-1.1', body: '{}' };
}

/**
 * Runs `use` with the endpoint of a fresh capture server and returns every request it
 * received. Errors the SDK or an adapter throws on the minimal answers are swallowed: the
 * requests are what is under test.
 */
export async function capture(use: (endpoint: string) => Promise<unknown>): Promise<HttpCall[]> {
  const calls: HttpCall[] = [];
  const server = createServer((request, response) => {
    void readBody(request).then((body) => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
      }
      const call = { method: request.method ?? 'GET', path: request.url ?? '/', headers, body };
      calls.push(call);
      const { contentType, body: out } = answer(call);
      response.writeHead(200, { 'content-type': contentType, etag: 'E2CAPTURE' });
      response.end(out);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    await use(`http://127.0.0.1:${port}`).catch(() => undefined);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return calls;
}

/** The only request `use` made (fails the test if it made none or several). */
export async function captureOne(use: (endpoint: string) => Promise<unknown>): Promise<HttpCall> {
  const calls = await capture(use);
  if (calls.length !== 1) {
    throw new Error(`expected one request, got ${calls.length}: ${calls.map((c) => c.path)}`);
  }
  return calls[0]!;
}
