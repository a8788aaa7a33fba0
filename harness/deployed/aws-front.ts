/**
 * The local AWS endpoint the deployed functions call (their `AWS_ENDPOINT_URL`): an HTTP front
 * on 127.0.0.1 that sees every signed request before moto does. For a call made with a deployed
 * role's credentials it
 *
 * - evaluates the call against that role and the resource's policy (the IAM simulation,
 *   harness/iam); a denied call is answered `AccessDenied` as AWS would and recorded;
 * - takes `PutEvents` for the EventBridge data plane (moto cannot invoke Lambda targets, and
 *   rewrites `account` across accounts): see eventbridge.ts;
 * - supplies what moto's CloudFront lacks (a new ETag per update, `PreconditionFailed` on a
 *   stale `IfMatch` or one racing another update, as CloudFront's check-and-write is atomic,
 *   `InProgress` until the change has propagated) and what its KMS lacks (a
 *   key ARN of another account is served by that account);
 * - notices a distribution changed outside it (a CloudFormation stack update, which moto applies
 *   on its CloudFront backend directly, never through this front): moto's CloudFormation gives
 *   the distribution a new ETag then (harness/moto_cloudformation.py), and when a read or an
 *   update through the front finds moto's ETag changed since the front last saw it, the front
 *   counts it as an update: a new ETag (a stale `IfMatch` fails), `InProgress` until the
 *   propagation window after the change's `LastModifiedTime` has passed (or after the
 *   front noticed it, when the reply carries no time), and an entry in `externalUpdates`.
 *   Harness difference: CloudFront starts propagating at the update; here the front learns of
 *   it on the next CloudFront call through it (before every update it asks moto first);
 *
 * and forwards everything else to moto unchanged. Test infrastructure only.
 */
import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpCall } from '../iam';

/** The deployed role a function's credentials stand for. */
export interface CallerPrincipal {
  readonly functionName: string;
  readonly roleArn: string;
  readonly accountId: string;
}

/** A call the IAM simulation refused. */
export interface DeniedCall {
  readonly functionName: string;
  readonly operation: string;
  readonly action: string;
  readonly resource: string;
  /** The deciding statement, or why no statement allows it. */
  readonly reason: string;
}

export interface AuthorizedCall {
  readonly service: string;
  readonly operation: string;
  /** Set when the simulation refused the call. */
  readonly denial?: Omit<DeniedCall, 'functionName' | 'operation'>;
}

/** The IAM simulation, as the front uses it (harness/deployed/authorizer.ts implements it). */
export interface CallAuthorizer {
  authorize(caller: CallerPrincipal, call: HttpCall): Promise<AuthorizedCall>;
}

/** One entry of a PutEvents request. */
export interface PutEventsEntry {
  readonly Source?: string;
  readonly DetailType?: string;
  readonly Detail?: string;
  readonly EventBusName?: string;
  readonly Resources?: string[];
  readonly Time?: number | string;
}

/** Where PutEvents goes: the data plane returns each entry's event id or its error. */
export interface EventSink {
  putEvents(
    callerAccountId: string,
    entries: readonly PutEventsEntry[],
  ): Promise<({ EventId: string } | { ErrorCode: string; ErrorMessage: string })[]>;
}

export interface AwsFrontOptions {
  readonly motoEndpoint: string;
  readonly authorizer: CallAuthorizer;
  readonly events: EventSink;
  /** How long a distribution update takes to deploy, in ms (default 1 s). */
  readonly propagationMs?: number;
  /**
   * Harness difference, named as such: moto produces no CloudTrail events. With this set,
   * every `UpdateDistribution` that succeeds (keyrot's own and anyone else's, as CloudTrail
   * records every call) puts an `AWS API Call via CloudTrail` record on this account's
   * default bus (the distributions' account), after `delayMs` (default 0: CloudTrail
   * delivers within a minute; the data plane's drain delivers it at once).
   */
  readonly cloudTrail?: { readonly accountId: string; readonly delayMs?: number };
}

/** CloudFront's state per distribution, which moto does not keep. */
interface DistributionState {
  etag: string;
  deployedAt: number;
  /** An update is being applied by moto (CloudFront checks `IfMatch` and writes atomically). */
  writing: boolean;
  /** moto's own ETag when the front last saw it: a new one means an update made outside the front. */
  motoEtag?: string;
}

/**
 * A distribution update as the front counts it: one through it, or one made outside it (a
 * CloudFormation deploy) that it noticed. Listeners (a traffic harness's edge locations) read
 * the new config themselves and adopt it within `[changedAt, deployedAt]`.
 */
export interface DistributionUpdate {
  readonly distributionId: string;
  readonly etag: string;
  /** When the update was made (ms). */
  readonly changedAt: number;
  /** When the front reports it `Deployed` (ms). */
  readonly deployedAt: number;
  /** Made outside the front (found by moto's ETag), not through it. */
  readonly external: boolean;
}

/** A distribution update made outside the front (a CloudFormation deploy), as the front noticed it. */
export interface ExternalDistributionUpdate {
  readonly distributionId: string;
  /** When the change was made (moto's LastModifiedTime), else when the front noticed it (ms). */
  readonly changedAt: number;
  /** The ETag the front gives the new config. */
  readonly etag: string;
}

export class AwsFront {
  /** Every call a deployed function made, in order. */
  readonly calls: { functionName: string; service: string; operation: string }[] = [];
  readonly denied: DeniedCall[] = [];
  /** Distribution updates made outside the front, in the order the front noticed them. */
  readonly externalUpdates: ExternalDistributionUpdate[] = [];
  private readonly principals = new Map<string, CallerPrincipal>();
  private readonly distributions = new Map<string, DistributionState>();
  private readonly updateListeners: ((update: DistributionUpdate) => void)[] = [];
  private server: Server | undefined;
  private url = '';
  propagationMs: number;

  constructor(private readonly options: AwsFrontOptions) {
    this.propagationMs = options.propagationMs ?? 1000;
  }

  /** `http://127.0.0.1:<port>`: the functions' `AWS_ENDPOINT_URL`. */
  get endpoint(): string {
    return this.url;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req)
        .then(({ status, headers, body }) => {
          res.writeHead(status, headers);
          res.end(body);
        })
        .catch((error: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`local AWS front: ${error instanceof Error ? error.message : String(error)}`);
        });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Calls signed with `accessKeyId` are the deployed role's. */
  registerPrincipal(accessKeyId: string, principal: CallerPrincipal): void {
    this.principals.set(accessKeyId, principal);
  }

  /** Calls `listener` after each distribution update the front counts (see DistributionUpdate). */
  onDistributionUpdate(listener: (update: DistributionUpdate) => void): void {
    this.updateListeners.push(listener);
  }

  /** What the front reports for the distribution now (`Deployed` for one it has not seen). */
  distributionStatus(distributionId: string): 'Deployed' | 'InProgress' {
    const state = this.distributions.get(distributionId);
    return state && Date.now() < state.deployedAt ? 'InProgress' : 'Deployed';
  }

  private notify(update: DistributionUpdate): void {
    for (const listener of this.updateListeners) listener(update);
  }

  /** Someone else changed the distribution: the next `IfMatch` with the old ETag fails. */
  changeBehindTheScenes(distributionId: string): void {
    const state = this.distributions.get(distributionId);
    if (state) state.etag = newEtag();
  }

  private async handle(req: IncomingMessage): Promise<Reply> {
    const body = await readBody(req);
    const headers = lowerCaseHeaders(req);
    const call: HttpCall = { method: req.method ?? 'GET', path: req.url ?? '/', headers, body };
    const accessKeyId = /Credential=([^/]+)\//.exec(headers.authorization ?? '')?.[1] ?? '';
    const caller = this.principals.get(accessKeyId);
    const reply = await this.handleAs(caller, call);
    await this.recordInCloudTrail(call, reply);
    return reply;
  }

  /** {@link AwsFrontOptions.cloudTrail}: CloudTrail's record of a successful update. */
  private async recordInCloudTrail(call: HttpCall, reply: Reply): Promise<void> {
    const trail = this.options.cloudTrail;
    const update = /^\/\d{4}-\d{2}-\d{2}\/distribution\/([^/?]+)\/config(?:\?|$)/.exec(call.path);
    if (!trail || !update || call.method !== 'PUT' || reply.status !== 200) return;
    const entry: PutEventsEntry = {
      EventBusName: 'default',
      Source: 'aws.cloudfront',
      DetailType: 'AWS API Call via CloudTrail',
      Detail: JSON.stringify({
        eventSource: 'cloudfront.amazonaws.com',
        eventName: 'UpdateDistribution',
        awsRegion: 'us-east-1',
        requestParameters: { id: update[1] },
      }),
    };
    const put = () => this.options.events.putEvents(trail.accountId, [entry]);
    if (!trail.delayMs) await put();
    else setTimeout(() => void put(), trail.delayMs);
  }

  private async handleAs(caller: CallerPrincipal | undefined, call: HttpCall): Promise<Reply> {
    // Any caller's CloudFront call sees the front's CloudFront (one ETag and status for all);
    // only the deployed roles' calls are evaluated by the IAM simulation.
    if (!caller) return isCloudFront(call.headers) ? this.cloudFront(call) : this.forward(call);
    const body = call.body;

    const authorized = await this.options.authorizer.authorize(caller, call);
    this.calls.push({
      functionName: caller.functionName,
      service: authorized.service,
      operation: authorized.operation,
    });
    if (authorized.denial) {
      const denied = {
        functionName: caller.functionName,
        operation: authorized.operation,
        ...authorized.denial,
      };
      this.denied.push(denied);
      return accessDenied(authorized.service, caller, denied);
    }
    if (authorized.service === 'events' && authorized.operation === 'PutEvents') {
      return this.putEvents(caller, body);
    }
    if (authorized.service === 'cloudfront') return this.cloudFront(call);
    if (authorized.service === 'kms') return this.forward(withKeyOwnerAccount(call));
    return this.forward(call);
  }

  private async putEvents(caller: CallerPrincipal, body: string): Promise<Reply> {
    const { Entries = [] } = JSON.parse(body) as { Entries?: PutEventsEntry[] };
    const results = await this.options.events.putEvents(caller.accountId, Entries);
    const failed = results.filter((r) => 'ErrorCode' in r).length;
    return json(200, { FailedEntryCount: failed, Entries: results });
  }

  /** moto's CloudFront with ETags that change and a propagation window (see the module doc). */
  private async cloudFront(call: HttpCall): Promise<Reply> {
    const match = /^\/\d{4}-\d{2}-\d{2}\/distribution\/([^/?]+)(\/config)?(?:\?|$)/.exec(call.path);
    if (!match) return this.forward(call);
    const id = match[1]!;
    const state = this.distributions.get(id) ?? {
      etag: newEtag(),
      deployedAt: 0,
      writing: false,
    };
    this.distributions.set(id, state);
    const isUpdate = call.method === 'PUT';
    // Before checking IfMatch, learn whether moto's config changed outside the front.
    if (isUpdate && state.motoEtag !== undefined && !state.writing) {
      const peek = await this.forward({
        ...call,
        method: 'GET',
        path: call.path.replace(/\/config(?=\?|$)/, '').replace(/^([^?]*)(\?.*)?$/, '$1/config'),
        body: '',
      });
      if (peek.status === 200) this.noticeExternalUpdate(id, state, peek);
    }
    // CloudFront checks IfMatch and applies the update as one step: a second writer holding
    // the same ETag is refused while moto applies the first (else it would overwrite it with
    // the config it read, undoing the first: two targets on one distribution do this).
    if (isUpdate && (call.headers['if-match'] !== state.etag || state.writing)) {
      return xmlError(
        412,
        'PreconditionFailed',
        'The precondition given in one or more of the request-header fields evaluated to false.',
      );
    }
    // A read answers with the ETag of the config it started on: a config moto read before a
    // concurrent update was applied must never carry that update's ETag.
    const etagAtStart = state.etag;
    if (isUpdate) state.writing = true;
    let reply: Reply;
    try {
      reply = await this.forward(call);
    } finally {
      if (isUpdate) state.writing = false;
    }
    if (reply.status !== 200) return reply;
    if (isUpdate) {
      state.etag = newEtag();
      state.deployedAt = Date.now() + this.propagationMs;
      state.motoEtag = reply.headers.etag ?? state.motoEtag;
      this.notify({
        distributionId: id,
        etag: state.etag,
        changedAt: Date.now(),
        deployedAt: state.deployedAt,
        external: false,
      });
    } else if (this.noticeExternalUpdate(id, state, reply)) {
      // This read returns the changed config: it carries the new config's ETag.
      return this.withFrontState(reply, state, state.etag);
    }
    return this.withFrontState(reply, state, isUpdate ? state.etag : etagAtStart);
  }

  /**
   * True when moto's ETag in `reply` differs from the one the front last saw: the config was
   * changed outside the front (see the module doc), which the front now treats as an update.
   */
  private noticeExternalUpdate(id: string, state: DistributionState, reply: Reply): boolean {
    const motoEtag = reply.headers.etag;
    if (motoEtag === undefined) return false;
    const seen = state.motoEtag;
    state.motoEtag = motoEtag;
    if (seen === undefined || seen === motoEtag) return false;
    const modified = /<LastModifiedTime>([^<]+)<\/LastModifiedTime>/.exec(
      reply.body.toString('utf8'),
    );
    const parsed = modified ? Date.parse(modified[1]!) : NaN;
    const changedAt = Number.isNaN(parsed) ? Date.now() : Math.min(parsed, Date.now());
    state.etag = newEtag();
    state.deployedAt = Math.max(state.deployedAt, changedAt + this.propagationMs);
    this.externalUpdates.push({ distributionId: id, changedAt, etag: state.etag });
    this.notify({
      distributionId: id,
      etag: state.etag,
      changedAt,
      deployedAt: state.deployedAt,
      external: true,
    });
    return true;
  }

  /** moto's reply with the front's ETag and status. */
  private withFrontState(reply: Reply, state: DistributionState, etag: string): Reply {
    const status = Date.now() < state.deployedAt ? 'InProgress' : 'Deployed';
    return {
      ...reply,
      headers: { ...reply.headers, etag },
      body: Buffer.from(
        reply.body
          .toString('utf8')
          .replace(/<Status>[^<]*<\/Status>/, `<Status>${status}</Status>`),
      ),
    };
  }

  private forward(call: HttpCall): Promise<Reply> {
    const target = new URL(this.options.motoEndpoint);
    const headers: Record<string, string> = { ...call.headers, host: target.host };
    delete headers['content-length'];
    const payload = Buffer.from(call.body, 'utf8');
    headers['content-length'] = String(payload.length);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: call.method,
          path: call.path,
          headers,
        },
        (res) => {
          readBuffer(res).then((body) => {
            const out: Record<string, string> = {};
            for (const [name, value] of Object.entries(res.headers)) {
              if (value === undefined || name === 'content-length' || name === 'transfer-encoding')
                continue;
              out[name] = Array.isArray(value) ? value.join(', ') : value;
            }
            resolve({ status: res.statusCode ?? 500, headers: out, body });
          }, reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * moto looks a key ARN up in the caller's account; AWS serves it from the key's own account
 * (where its key policy decides). The front sends such a call to the key's account.
 */
function withKeyOwnerAccount(call: HttpCall): HttpCall {
  let keyId: unknown;
  try {
    keyId = (JSON.parse(call.body) as { KeyId?: unknown }).KeyId;
  } catch {
    return call;
  }
  const owner =
    typeof keyId === 'string' ? /^arn:aws:kms:[^:]+:(\d{12}):/.exec(keyId)?.[1] : undefined;
  return owner ? { ...call, headers: { ...call.headers, 'x-moto-account-id': owner } } : call;
}

/** AWS's answer to a call IAM refused, in the service's protocol. */
function accessDenied(service: string, caller: CallerPrincipal, denied: DeniedCall): Reply {
  const session = `arn:aws:sts::${caller.accountId}:assumed-role/${caller.roleArn.split('/').pop()}/${caller.functionName}`;
  const message = `User: ${session} is not authorized to perform: ${denied.action} on resource: ${denied.resource} (${denied.reason})`;
  if (service === 'cloudfront') return xmlError(403, 'AccessDenied', message);
  if (service === 'apigateway' || service === 'scheduler' || service === 'lambda') {
    return {
      status: 403,
      headers: { 'content-type': 'application/json', 'x-amzn-errortype': 'AccessDeniedException' },
      body: Buffer.from(JSON.stringify({ message, Message: message })),
    };
  }
  return json(400, { __type: 'AccessDeniedException', message }, 'AccessDeniedException');
}

function xmlError(status: number, code: string, message: string): Reply {
  const body = `<?xml version="1.0"?>\n<ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${randomBytes(8).toString('hex')}</RequestId></ErrorResponse>`;
  return { status, headers: { 'content-type': 'text/xml' }, body: Buffer.from(body) };
}

function json(status: number, value: unknown, errorType?: string): Reply {
  return {
    status,
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      ...(errorType && { 'x-amzn-errortype': errorType }),
    },
    body: Buffer.from(JSON.stringify(value)),
  };
}

const escapeXml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A request signed for CloudFront (its credential scope names the service). */
const isCloudFront = (headers: Record<string, string>) =>
  /Credential=[^/]+\/\d{8}\/[^/]+\/cloudfront\/aws4_request/.test(headers.authorization ?? '');

const newEtag = () => `E${randomBytes(6).toString('hex').toUpperCase()}`;

function lowerCaseHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined)
      out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

async function readBody(req: IncomingMessage): Promise<string> {
  return (await readBuffer(req)).toString('utf8');
}

function readBuffer(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}
