/**
 * CloudFront's edge locations as the traffic tests need them: an HTTP proxy on 127.0.0.1 that
 * forwards each request through one simulated edge location (header `x-keyrot-edge: <n>`, or
 * round-robin) to the origin, with the origin custom headers of the config *that location*
 * has adopted (see {@link CloudFrontSimulator}). A header set by the viewer is overwritten,
 * as CloudFront does with origin custom headers. Test infrastructure only.
 */
import {
  Agent,
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { fingerprintOf } from '@keyrot/shared';
import type { CloudFrontSimulator } from '../cloudfront-sim';
import { ORIGIN_ID } from '../provision';

export const EDGE_HEADER = 'x-keyrot-edge';
const HOST = '127.0.0.1';

export interface EdgeProxyOptions {
  readonly cloudFront: CloudFrontSimulator;
  readonly distributionId: string;
  /** Where the API origin's domain really is: the origin simulator's base URL. */
  readonly originBaseUrl: string;
  /** The origin the default behaviour targets (default `api-gateway-origin`). */
  readonly originId?: string;
}

export class EdgeProxy {
  private next = 0;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  /** Requests that found no config or no origin at their edge location (answered 502). */
  unroutable = 0;
  /** Requests forwarded, by fingerprint of the `x-api-key` the edge location sent. */
  private readonly forwarded = new Map<string, number>();
  /** Of those, the ones the origin answered with other than 2xx. */
  private readonly refused = new Map<string, number>();

  private constructor(
    private readonly server: Server,
    private readonly options: EdgeProxyOptions,
  ) {}

  static async start(options: EdgeProxyOptions): Promise<EdgeProxy> {
    const server = createServer();
    const proxy = new EdgeProxy(server, options);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => proxy.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, HOST, resolve);
    });
    return proxy;
  }

  get baseUrl(): string {
    return `http://${HOST}:${(this.server.address() as AddressInfo).port}`;
  }

  /** Fingerprints of the keys the edges have sent so far, with request counts. */
  keysForwarded(): ReadonlyMap<string, number> {
    return this.forwarded;
  }

  /** Fingerprints of the keys the origin refused (non-2xx), with request counts. */
  keysRefused(): ReadonlyMap<string, number> {
    return this.refused;
  }

  get edgeLocations(): number {
    return this.options.cloudFront.edgeLocations;
  }

  async stop(): Promise<void> {
    this.agent.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const asked = Number(req.headers[EDGE_HEADER]);
    const edge = Number.isInteger(asked)
      ? asked % this.edgeLocations
      : this.next++ % this.edgeLocations;
    const origins = this.options.cloudFront.adoptedOrigins(this.options.distributionId, edge);
    const origin = origins?.get(this.options.originId ?? ORIGIN_ID);
    if (!origin) {
      this.unroutable++;
      req.resume();
      res.writeHead(502).end();
      return;
    }
    const headers: Record<string, string | string[] | undefined> = Object.fromEntries(
      Object.entries(req.headers).filter(([name]) => name !== 'host' && name !== EDGE_HEADER),
    );
    for (const [name, value] of origin.headers) headers[name] = value;
    const key = origin.headers.get('x-api-key');
    const fingerprint = key === undefined ? 'none' : fingerprintOf(key);
    this.forwarded.set(fingerprint, (this.forwarded.get(fingerprint) ?? 0) + 1);
    const upstream = request(
      `${this.options.originBaseUrl}${origin.originPath}${req.url ?? '/'}`,
      { method: req.method ?? 'GET', headers, agent: this.agent },
      (answer) => {
        const status = answer.statusCode ?? 502;
        if (status < 200 || status >= 300) {
          this.refused.set(fingerprint, (this.refused.get(fingerprint) ?? 0) + 1);
        }
        res.writeHead(status, { 'x-keyrot-edge': String(edge) });
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  }
}
