/**
 * In-memory fakes of keyrot's ports, for unit tests. Each one follows its port's doc comment
 * (and the AWS adapter's observable behaviour) and nothing more; they hold key values only
 * where the real service would (the key store, the edge's headers).
 */
import {
  AwsCallError,
  createLogger,
  DETAIL_SCHEMAS,
  PublishError,
  OriginNotFoundError,
  ResourceNotFoundError,
  SecretValue,
  refusalToRecord,
  rotationState,
  STEP_ORDER,
  stepsOf,
  type BeginResult,
  type ClaimResult,
  type Lease,
  type StepOf,
  type Clock,
  type CurrentKeyReference,
  type DetailOf,
  type DetailType,
  type EventPublisher,
  type KeyRef,
  type KeySealer,
  type KeyDescription,
  type KeyStore,
  type KeyrotLogger,
  type Ledger,
  type Lock,
  type NamedKey,
  type PlanKey,
  type RestoreResult,
  type StepRecord,
  type Target,
} from '@keyrot/shared';
import { actor, API_ACCOUNT, ROTATION_ID, TARGET } from './fixtures';
import {
  EdgeConfigChangedError,
  type EdgeConfigStore,
  type OriginHeader,
} from '../../services/edge-updater/src/edge-config';

/** A clock that only moves when told to; `sleep` returns at once and moves it forward. */
export class FakeClock implements Clock {
  private current: number;
  /** Every `sleep` asked for, in ms. */
  readonly sleeps: number[] = [];

  constructor(start = '2026-11-25T09:00:00.000Z') {
    this.current = Date.parse(start);
  }

  now(): Date {
    return new Date(this.current);
  }

  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.current += Math.max(0, ms);
  }

  advance(ms: number): void {
    this.current += ms;
  }

  get slept(): number {
    return this.sleeps.reduce((a, b) => a + b, 0);
  }
}

type Failures<K extends string> = Map<K, Error[]>;

function takeFailure<K extends string>(failures: Failures<K>, name: K): void {
  const error = failures.get(name)?.shift();
  if (error) throw error;
}

function queueFailure<K extends string>(failures: Failures<K>, name: K, error: Error): void {
  failures.set(name, [...(failures.get(name) ?? []), error]);
}

interface StoredKey {
  readonly id: string;
  readonly name: string;
  readonly value: string;
  readonly tags: Readonly<Record<string, string>>;
}

export interface SeededKey {
  readonly id: string;
  readonly name: string;
  readonly value: string;
  readonly fingerprint: string;
}

/**
 * {@link KeyStore} over in-memory API keys and usage plans. Like API Gateway, listing by name
 * is exact here (the adapter filters the prefix match), values are only handed out as
 * {@link SecretValue}, and deleting a key removes it from every plan.
 */
export class FakeKeyStore implements KeyStore {
  private readonly keys = new Map<string, StoredKey>();
  private readonly plans = new Map<string, Set<string>>();
  private readonly everValue = new Set<string>();
  private readonly failures: Failures<keyof KeyStore> = new Map();
  private counter = 0;
  /** Ids of keys made by `createKey`. */
  readonly created: string[] = [];
  /** Every `deleteKey` call: the key id and the clock time of the call. */
  readonly deleteCalls: { id: string; at: number }[] = [];
  /** Keys read one by one (`GetApiKey` without the value), in call order. */
  readonly describeCalls: string[] = [];

  constructor(private readonly clock: Clock = new FakeClock()) {}

  addPlan(usagePlanId: string): this {
    this.plans.set(usagePlanId, this.plans.get(usagePlanId) ?? new Set());
    return this;
  }

  /** A key that exists before the test starts (made by hand, by a partner, by keyrot). */
  seedKey(key: {
    name: string;
    plans?: readonly string[];
    tags?: Record<string, string>;
    value?: string;
  }): SeededKey {
    const stored = this.store(key.name, key.tags ?? {}, key.value);
    for (const plan of key.plans ?? []) {
      const keysOnPlan = this.plans.get(plan);
      if (!keysOnPlan) throw new Error(`test setup: no usage plan ${plan} (call addPlan first)`);
      keysOnPlan.add(stored.id);
    }
    return { ...stored, fingerprint: new SecretValue(stored.value).fingerprint };
  }

  /** Makes the next call of `method` throw `error` (queued: call again for more). */
  failNext(method: keyof KeyStore, error: Error): void {
    queueFailure(this.failures, method, error);
  }

  has(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  keyIds(): string[] {
    return [...this.keys.keys()];
  }

  tagsOf(keyId: string): Readonly<Record<string, string>> | undefined {
    return this.keys.get(keyId)?.tags;
  }

  valueOf(keyId: string): string | undefined {
    return this.keys.get(keyId)?.value;
  }

  planKeyIds(usagePlanId: string): string[] {
    return [...(this.plans.get(usagePlanId) ?? [])];
  }

  /** Every key value this store ever held, for leak checks. */
  secrets(): string[] {
    return [...this.everValue];
  }

  async listPlanKeys(usagePlanId: string): Promise<PlanKey[]> {
    takeFailure(this.failures, 'listPlanKeys');
    const plan = this.plans.get(usagePlanId);
    if (!plan) throw new ResourceNotFoundError('USAGE_PLAN_ID', usagePlanId, 'no such usage plan');
    return [...plan].map((id) => {
      const key = this.keys.get(id)!;
      return { id, name: key.name, fingerprint: new SecretValue(key.value).fingerprint };
    });
  }

  async listKeysNamed(name: string): Promise<NamedKey[]> {
    takeFailure(this.failures, 'listKeysNamed');
    return [...this.keys.values()]
      .filter((key) => key.name === name)
      .map(({ id, tags }) => ({ id, name, tags: { ...tags } }));
  }

  async createKey(name: string, tags: Record<string, string>) {
    takeFailure(this.failures, 'createKey');
    const key = this.store(name, tags);
    this.created.push(key.id);
    return { id: key.id, value: new SecretValue(key.value) };
  }

  async getKeyValue(keyId: string): Promise<SecretValue> {
    takeFailure(this.failures, 'getKeyValue');
    const key = this.keys.get(keyId);
    if (!key) throw new ResourceNotFoundError('newKey.id', keyId, 'API key was deleted');
    return new SecretValue(key.value);
  }

  async addToPlan(usagePlanId: string, keyId: string) {
    takeFailure(this.failures, 'addToPlan');
    const plan = this.plans.get(usagePlanId);
    if (!plan) throw new ResourceNotFoundError('USAGE_PLAN_ID', usagePlanId, 'no such usage plan');
    if (!this.keys.has(keyId)) {
      throw new AwsCallError('CreateUsagePlanKey', `usage plan ${usagePlanId}`, new Error(keyId));
    }
    if (plan.has(keyId)) return 'already-present' as const;
    plan.add(keyId);
    return 'added' as const;
  }

  async describeKey(keyId: string): Promise<KeyDescription | undefined> {
    takeFailure(this.failures, 'describeKey');
    this.describeCalls.push(keyId);
    const key = this.keys.get(keyId);
    return key && { id: key.id, name: key.name, enabled: true, tags: { ...key.tags } };
  }

  async tagKey(keyId: string, tags: Record<string, string>): Promise<void> {
    takeFailure(this.failures, 'tagKey');
    const key = this.keys.get(keyId);
    if (!key) throw new ResourceNotFoundError('--key-id', keyId, 'no such API key');
    this.keys.set(keyId, { ...key, tags: { ...key.tags, ...tags } });
  }

  async deleteKey(keyId: string) {
    this.deleteCalls.push({ id: keyId, at: this.clock.now().getTime() });
    takeFailure(this.failures, 'deleteKey');
    if (!this.keys.delete(keyId)) return 'absent' as const;
    for (const plan of this.plans.values()) plan.delete(keyId);
    return 'deleted' as const;
  }

  private store(name: string, tags: Record<string, string>, value?: string): StoredKey {
    this.counter += 1;
    const n = String(this.counter).padStart(4, '0');
    const key: StoredKey = {
      id: `fakekey${n}`,
      name,
      // 40 characters, unique per key, easy to spot in a leak.
      value: value ?? `SECRETvalue${n}${'x'.repeat(25)}`,
      tags: { ...tags },
    };
    this.keys.set(key.id, key);
    this.everValue.add(key.value);
    return key;
  }
}

const sortKeyOf = (step: StepRecord['step']) =>
  `STEP#${String(STEP_ORDER[step]).padStart(2, '0')}#${step}`;

/**
 * {@link Ledger} in memory, with DynamoDbLedger's semantics: one item per (rotation, step),
 * conditional on not existing; one lock per target that a rotation may take when it is free,
 * expired, or already its own; the outcome and the lock release are atomic.
 */
export class FakeLedger implements Ledger {
  private readonly items = new Map<string, StepRecord>();
  private readonly locks = new Map<string, Lock>();

  /** Every record ever written, in write order, as stored (JSON round trip). */
  records(): StepRecord[] {
    return [...this.items.values()];
  }

  steps(rotationId: string): StepRecord['step'][] {
    return this.sorted(rotationId).map((r) => r.step);
  }

  find<S extends StepRecord['step']>(rotationId: string, step: S): StepOf<S> | undefined {
    return this.items.get(`${rotationId}|${sortKeyOf(step)}`) as StepOf<S> | undefined;
  }

  /** Outcomes (COMPLETED, FAILED, REFUSED, REJECTED) recorded for a rotation. */
  outcomes(rotationId: string): StepRecord['step'][] {
    return this.steps(rotationId).filter((s) => STEP_ORDER[s] === STEP_ORDER.COMPLETED);
  }

  async timeline(rotationId: string): Promise<StepRecord[]> {
    return this.sorted(rotationId);
  }

  async history(target: string, limit = 100): Promise<StepRecord[]> {
    const key = (r: StepRecord) => `${r.at}#${r.rotationId}#${sortKeyOf(r.step)}`;
    return this.records()
      .filter((r) => r.target === target)
      .sort((a, b) => key(b).localeCompare(key(a)))
      .slice(0, limit);
  }

  async begin(requested: StepOf<'REQUESTED'>, lockSeconds: number): Promise<BeginResult> {
    const held = this.locks.get(requested.target);
    const free = !held || held.expiresAt < requested.at || held.rotationId === requested.rotationId;
    if (!free) {
      await this.record({
        ...requested,
        step: 'REFUSED',
        lockedBy: held.rotationId,
        lockExpiresAt: held.expiresAt,
      });
      return { status: 'refused', holder: held };
    }
    if (this.find(requested.rotationId, 'REQUESTED')) return { status: 'started' };
    this.locks.set(requested.target, {
      target: requested.target,
      rotationId: requested.rotationId,
      acquiredAt: requested.at,
      expiresAt: new Date(Date.parse(requested.at) + lockSeconds * 1000).toISOString(),
    });
    this.put(requested);
    return { status: 'started' };
  }

  async record(step: StepRecord): Promise<boolean> {
    if (this.find(step.rotationId, step.step)) return false;
    this.checkProtocol(step);
    this.put(step);
    return true;
  }

  async finish(outcome: StepOf<'COMPLETED'> | StepOf<'FAILED'>): Promise<void> {
    if (this.find(outcome.rotationId, outcome.step)) return;
    this.checkProtocol(outcome);
    this.put(outcome);
    if (this.locks.get(outcome.target)?.rotationId === outcome.rotationId) {
      this.locks.delete(outcome.target);
    }
  }

  async lockOf(target: string): Promise<Lock | undefined> {
    const lock = this.locks.get(target);
    return lock && { ...lock };
  }

  /** Adopted key ids by target, as the table's `ADOPTED#<keyId>` items hold them. */
  readonly adopted = new Map<string, string[]>();

  async adoptedKeys(target: string): Promise<string[]> {
    return [...(this.adopted.get(target) ?? [])];
  }

  async ownedKeys(target: string): Promise<string[]> {
    const completed = this.records()
      .filter((r): r is StepOf<'COMPLETED'> => r.step === 'COMPLETED' && r.target === target)
      .sort((a, b) => a.at.localeCompare(b.at))
      .at(-1);
    return [...(completed ? [completed.newKey.id] : []), ...(await this.adoptedKeys(target))];
  }

  /** Records an adoption as `DynamoDbLedger.adopt` does (the step and the target's item). */
  adopt(step: StepOf<'ADOPTED'>): void {
    this.checkProtocol(step);
    this.put(step);
    const keyIds = step.keys.map((k) => k.id);
    this.adopted.set(step.target, [...(this.adopted.get(step.target) ?? []), ...keyIds]);
  }

  /** Leases by rotation, as the table's `LEASE` items hold them. */
  readonly leases = new Map<string, Lease & { interrupted?: boolean }>();

  async claim(lease: Lease, now: string): Promise<ClaimResult> {
    const held = this.leases.get(lease.rotationId);
    if (held && held.owner !== lease.owner && held.expiresAt >= now && !held.interrupted) {
      return { status: 'held', holder: { ...held } };
    }
    this.leases.set(lease.rotationId, { ...lease });
    return { status: 'claimed', takenOver: held !== undefined && held.owner !== lease.owner };
  }

  async release(lease: Lease): Promise<void> {
    if (this.leases.get(lease.rotationId)?.owner === lease.owner) {
      this.leases.delete(lease.rotationId);
    }
  }

  async interrupt(lease: Lease): Promise<void> {
    const held = this.leases.get(lease.rotationId);
    if (held?.owner === lease.owner)
      this.leases.set(lease.rotationId, { ...held, interrupted: true });
  }

  /**
   * Every step written must be one the protocol allows from the rotation's state
   * (shared/src/rotation/rules.ts): a service recording out of turn fails its test here.
   */
  private checkProtocol(step: StepRecord): void {
    const refusal = refusalToRecord('any', step, rotationState(this.sorted(step.rotationId)));
    if (refusal) throw new Error(`protocol violation in ${step.rotationId}: ${refusal}`);
  }

  private put(record: StepRecord): void {
    const stored = JSON.parse(JSON.stringify(record)) as StepRecord;
    this.items.set(`${record.rotationId}|${sortKeyOf(record.step)}`, stored);
  }

  private sorted(rotationId: string): StepRecord[] {
    return this.records()
      .filter((r) => r.rotationId === rotationId)
      .sort((a, b) => sortKeyOf(a.step).localeCompare(sortKeyOf(b.step)));
  }
}

type Announced = Exclude<DetailType, 'KeyRotationRequested'>;

export interface PublishedEvent {
  readonly detailType: Announced;
  readonly detail: unknown;
}

/**
 * {@link EventPublisher} that records what it puts on the bus. Like the EventBridge adapter,
 * it validates every detail against the contract before "sending".
 */
export class FakePublisher implements EventPublisher {
  readonly published: PublishedEvent[] = [];
  private readonly failures: Failures<Announced> = new Map();

  /** Makes the next publish of `detailType` throw `error` (the event is not recorded). */
  failNext(detailType: Announced, error: Error): void {
    queueFailure(this.failures, detailType, error);
  }

  async publish<T extends Announced>(detailType: T, detail: DetailOf[T]): Promise<void> {
    // As the EventBridge adapter: a detail that breaks the contract is certainly not sent.
    const valid = DETAIL_SCHEMAS[detailType].safeParse(detail);
    if (!valid.success) throw new PublishError('fake-bus', detailType, true, valid.error);
    takeFailure(this.failures, detailType);
    this.published.push({ detailType, detail: JSON.parse(JSON.stringify(detail)) as unknown });
  }

  ofType<T extends Announced>(detailType: T): DetailOf[T][] {
    return this.published
      .filter((event) => event.detailType === detailType)
      .map((event) => event.detail as DetailOf[T]);
  }

  types(): Announced[] {
    return this.published.map((event) => event.detailType);
  }
}

/**
 * {@link KeySealer} that seals reversibly without a key service. Like KMS, opening needs the
 * same key ARN and exactly the same encryption context, or it fails.
 */
export class FakeSealer implements KeySealer {
  readonly sealCalls: { keyArn: string; context: Record<string, string> }[] = [];
  readonly openCalls: { keyArn: string; context: Record<string, string> }[] = [];
  private readonly failures: Failures<'seal' | 'open'> = new Map();

  failNext(method: 'seal' | 'open', error: Error): void {
    queueFailure(this.failures, method, error);
  }

  async seal(keyArn: string, value: SecretValue, context: Record<string, string>) {
    this.sealCalls.push({ keyArn, context: { ...context } });
    takeFailure(this.failures, 'seal');
    const scrambled = Buffer.from(value.reveal(), 'utf8').map((b) => b ^ 0x5a);
    const envelope = { keyArn, context, blob: Buffer.from(scrambled).toString('base64') };
    return Buffer.from(JSON.stringify(envelope), 'utf8').toString('base64');
  }

  async open(keyArn: string, sealed: string, context: Record<string, string>) {
    this.openCalls.push({ keyArn, context: { ...context } });
    takeFailure(this.failures, 'open');
    const envelope = JSON.parse(Buffer.from(sealed, 'base64').toString('utf8')) as {
      keyArn: string;
      context: Record<string, string>;
      blob: string;
    };
    if (envelope.keyArn !== keyArn || !sameContext(envelope.context, context)) {
      const cause = Object.assign(new Error('context or key does not match'), {
        name: 'InvalidCiphertextException',
      });
      throw new AwsCallError('kms:Decrypt', keyArn, cause);
    }
    const plain = Buffer.from(envelope.blob, 'base64').map((b) => b ^ 0x5a);
    return new SecretValue(Buffer.from(plain).toString('utf8'));
  }
}

function sameContext(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

type EdgeTarget = Pick<Target, 'distributionId' | 'originId' | 'headerName'>;

export interface FakeHeader {
  readonly name: string;
  readonly value: string;
}

interface FakeDistribution {
  etag: number;
  origins: Map<string, FakeHeader[]>;
  lastWriteAt?: number;
}

/**
 * {@link EdgeConfigStore} over in-memory distributions. Every change moves the ETag; a write
 * with a stale ETag throws {@link EdgeConfigChangedError}. A written config is `Deployed`
 * `deployDelayMs` after the write (by the clock given); `Infinity` never deploys.
 */
export class FakeEdgeConfig implements EdgeConfigStore {
  private readonly distributions = new Map<string, FakeDistribution>();
  private concurrentChanges = 0;
  deployDelayMs = 0;
  /** Called before each deployment check (to let a test change the config meanwhile). */
  beforeDeploymentCheck?: () => void;
  /** Every `writeHeader` call that reached the distribution (successful or not). */
  readonly writeAttempts: { distributionId: string; etag: string }[] = [];
  /** Successful writes: which origin, and the fingerprint written. */
  readonly writes: { distributionId: string; originId: string; fingerprint: string }[] = [];

  constructor(private readonly clock: Clock) {}

  addDistribution(distributionId: string, origins: Record<string, FakeHeader[]>): this {
    this.distributions.set(distributionId, {
      etag: 1,
      origins: new Map(Object.entries(origins).map(([id, headers]) => [id, [...headers]])),
    });
    return this;
  }

  headersOf(distributionId: string, originId: string): FakeHeader[] {
    return [...(this.distributions.get(distributionId)?.origins.get(originId) ?? [])];
  }

  /** Someone else changes the header (by hand, another tool): the ETag moves. */
  setHeaderOutOfBand(target: EdgeTarget, value: string): void {
    const distribution = this.distribution(target);
    this.setHeader(distribution, target, value);
    distribution.etag += 1;
  }

  /** The next `n` writes find the distribution changed since it was read. */
  changeBeforeNextWrites(n: number): void {
    this.concurrentChanges = n;
  }

  /** Writes are throttled (CloudFront's `Rate exceeded`) until `until` (clock ms). */
  throttleWritesUntil(until: number): void {
    this.throttledUntil = until;
  }
  private throttledUntil = 0;

  async readHeader(target: EdgeTarget): Promise<OriginHeader> {
    const distribution = this.distribution(target);
    return { etag: `E${distribution.etag}`, fingerprint: this.fingerprint(distribution, target) };
  }

  async writeHeader(target: EdgeTarget, etag: string, value: SecretValue): Promise<void> {
    const distribution = this.distribution(target);
    this.writeAttempts.push({ distributionId: target.distributionId, etag });
    if (this.clock.now().getTime() < this.throttledUntil) {
      const throttled = Object.assign(new Error('Rate exceeded'), {
        name: 'Throttling',
        $metadata: { httpStatusCode: 400 },
      });
      throw new AwsCallError('UpdateDistribution', target.distributionId, throttled);
    }
    if (this.concurrentChanges > 0) {
      this.concurrentChanges -= 1;
      distribution.etag += 1;
    }
    if (etag !== `E${distribution.etag}`) throw new EdgeConfigChangedError(target.distributionId);
    this.setHeader(distribution, target, value.reveal());
    distribution.etag += 1;
    distribution.lastWriteAt = this.clock.now().getTime();
    this.writes.push({
      distributionId: target.distributionId,
      originId: target.originId,
      fingerprint: value.fingerprint,
    });
  }

  async deployment(target: EdgeTarget) {
    this.beforeDeploymentCheck?.();
    const distribution = this.distribution(target);
    const since = distribution.lastWriteAt;
    return {
      deployed: since === undefined || this.clock.now().getTime() - since >= this.deployDelayMs,
      fingerprint: this.fingerprint(distribution, target),
    };
  }

  private distribution(target: EdgeTarget): FakeDistribution {
    const distribution = this.distributions.get(target.distributionId);
    if (!distribution) throw new ResourceNotFoundError('DISTRIBUTION_ID', target.distributionId);
    if (!distribution.origins.has(target.originId)) {
      throw new OriginNotFoundError(target.distributionId, target.originId);
    }
    return distribution;
  }

  private fingerprint(distribution: FakeDistribution, target: EdgeTarget): string | null {
    const header = distribution.origins
      .get(target.originId)!
      .find((h) => h.name.toLowerCase() === target.headerName.toLowerCase());
    return header ? new SecretValue(header.value).fingerprint : null;
  }

  private setHeader(distribution: FakeDistribution, target: EdgeTarget, value: string): void {
    const headers = distribution.origins.get(target.originId)!;
    const index = headers.findIndex(
      (h) => h.name.toLowerCase() === target.headerName.toLowerCase(),
    );
    if (index >= 0) headers[index] = { name: headers[index]!.name, value };
    else headers.push({ name: target.headerName, value });
  }
}

interface FakeSecretVersion {
  readonly value: string;
  stages: string[];
}

/**
 * {@link CurrentKeyReference} over in-memory secrets with Secrets Manager's staging labels: a
 * target's secret exists only once {@link addTarget} made it (as the edge stack does, empty);
 * a new version takes AWSCURRENT and the version that had it becomes AWSPREVIOUS; writing an
 * existing version again with the same value changes nothing (ClientRequestToken).
 */
export class FakeCurrentKey implements CurrentKeyReference {
  private readonly secrets = new Map<string, Map<string, FakeSecretVersion>>();
  private readonly failures: Failures<keyof CurrentKeyReference> = new Map();
  /** Every call, in order: method, target and version. */
  readonly calls: { method: keyof CurrentKeyReference; targetName: string; versionId: string }[] =
    [];

  constructor(targets: readonly string[] = [TARGET.name]) {
    for (const name of targets) this.addTarget(name);
  }

  /** The target's secret exists (empty), as the edge stack creates it. */
  addTarget(targetName: string): this {
    this.secrets.set(targetName, this.secrets.get(targetName) ?? new Map());
    return this;
  }

  /** Makes the next call of `method` throw `error` (queued: call again for more). */
  failNext(method: keyof CurrentKeyReference, error: Error): void {
    queueFailure(this.failures, method, error);
  }

  /** Fingerprint of the target's AWSCURRENT value; null when the secret is empty. */
  currentFingerprint(targetName: string): string | null {
    const current = [...this.versions(targetName).values()].find((v) =>
      v.stages.includes('AWSCURRENT'),
    );
    return current ? new SecretValue(current.value).fingerprint : null;
  }

  /** Version ids of the target's secret, in write order. */
  versionIds(targetName: string): string[] {
    return [...this.versions(targetName).keys()];
  }

  async put(targetName: string, value: SecretValue, versionId: string): Promise<void> {
    this.calls.push({ method: 'put', targetName, versionId });
    takeFailure(this.failures, 'put');
    const versions = this.versions(targetName);
    const existing = versions.get(versionId);
    if (existing && existing.value !== value.reveal()) {
      throw new AwsCallError('secretsmanager:PutSecretValue', targetName, new Error('exists'));
    }
    if (!existing) versions.set(versionId, { value: value.reveal(), stages: [] });
    if (!versions.get(versionId)!.stages.includes('AWSCURRENT'))
      this.makeCurrent(versions, versionId);
  }

  async restore(targetName: string, versionId: string): Promise<RestoreResult> {
    this.calls.push({ method: 'restore', targetName, versionId });
    takeFailure(this.failures, 'restore');
    const versions = this.versions(targetName);
    if (!versions.get(versionId)?.stages.includes('AWSCURRENT')) return 'not-current';
    const previous = [...versions.entries()].find(([, v]) => v.stages.includes('AWSPREVIOUS'));
    if (!previous) return 'no-earlier-version';
    this.makeCurrent(versions, previous[0]);
    return 'restored';
  }

  private makeCurrent(versions: Map<string, FakeSecretVersion>, versionId: string): void {
    for (const v of versions.values()) {
      v.stages = v.stages.filter((label) => label !== 'AWSPREVIOUS');
    }
    for (const v of versions.values()) {
      if (v.stages.includes('AWSCURRENT')) {
        v.stages = [...v.stages.filter((label) => label !== 'AWSCURRENT'), 'AWSPREVIOUS'];
      }
    }
    versions.get(versionId)!.stages.push('AWSCURRENT');
  }

  private versions(targetName: string): Map<string, FakeSecretVersion> {
    const versions = this.secrets.get(targetName);
    if (!versions) {
      throw new ResourceNotFoundError('TARGET_NAME', `keyrot/test/${targetName}/current-key`);
    }
    return versions;
  }
}

/** A logger made by {@link createLogger} whose output is captured instead of printed. */
export interface CapturedLogger {
  readonly log: KeyrotLogger;
  /** Everything written to stdout/stderr since the capture started. */
  text(): string;
  /** The JSON log lines, parsed. */
  entries(): Record<string, unknown>[];
  stop(): void;
}

/**
 * Captures what the logger prints by intercepting process.stdout/stderr (the Powertools
 * Logger writes there through its own Console). Call `stop()` after the test.
 */
export function captureLogger(serviceName: string): CapturedLogger {
  const chunks: string[] = [];
  const capture = (chunk: string | Uint8Array): boolean => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
  const log = createLogger(serviceName);
  const text = () => chunks.join('');
  return {
    log,
    text,
    entries: () =>
      text()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    stop: () => {
      stdout.mockRestore();
      stderr.mockRestore();
    },
  };
}

/** Every fake a domain test needs, on one clock. */
export class FakeWorld {
  readonly clock = new FakeClock();
  readonly keys = new FakeKeyStore(this.clock);
  readonly ledger = new FakeLedger();
  readonly events = new FakePublisher();
  readonly sealer = new FakeSealer();
  readonly edge = new FakeEdgeConfig(this.clock);
  readonly currentKey = new FakeCurrentKey();
  readonly logs: CapturedLogger;
  private readonly extraSecrets: string[] = [];

  constructor(serviceName: string) {
    this.logs = captureLogger(serviceName);
  }

  /** A key value that lives outside the key store (e.g. only on the edge). */
  addSecret(value: string): void {
    this.extraSecrets.push(value);
  }

  /** I4: no key value in any log line, ledger record or event. */
  expectNoSecretLeaks(): void {
    const secrets = [...this.keys.secrets(), ...this.extraSecrets];
    const places = {
      logs: this.logs.text(),
      ledger: JSON.stringify(this.ledger.records()),
      events: JSON.stringify(this.events.published),
    };
    for (const [place, text] of Object.entries(places)) {
      for (const secret of secrets) {
        if (text.includes(secret)) throw new Error(`a key value leaked into the ${place}`);
      }
    }
  }

  dispose(): void {
    this.logs.stop();
  }
}

/**
 * Gives every test a fresh {@link FakeWorld} for `serviceName`, prepared by `setup`; after
 * each test it checks I4 (no key value in a log line, the ledger or an event, whatever
 * happened) and disposes of the world. Call at the top of a test file; the getter returns
 * the current test's world.
 */
export function useFakeWorld(
  serviceName: string,
  setup?: (world: FakeWorld) => void | Promise<void>,
): () => FakeWorld {
  let current: FakeWorld | undefined;
  beforeEach(async () => {
    current = new FakeWorld(serviceName);
    await setup?.(current);
  });
  afterEach(() => {
    const world = current;
    current = undefined;
    if (!world) return;
    try {
      world.expectNoSecretLeaks();
    } finally {
      world.dispose();
    }
  });
  return () => {
    if (!current) throw new Error('useFakeWorld: no world outside a test');
    return current;
  };
}

/**
 * Leaves `world`'s ledger as the issuer does once it has sent KeyCreated for `newKey`
 * superseding `superseded`: the rotation's steps up to KEY_SENT, at the clock's time, with the
 * target's lock still held.
 */
export async function issuerSent(
  world: Pick<FakeWorld, 'ledger' | 'clock'>,
  newKey: KeyRef,
  superseded: readonly KeyRef[],
): Promise<void> {
  // The steps the protocol has the issuer record, built by its own builder.
  const step = stepsOf(
    'key-issuer',
    { rotationId: ROTATION_ID, target: TARGET.name },
    actor(API_ACCOUNT, 'keyrot-key-issuer'),
    world.clock,
  );
  await world.ledger.begin(step('REQUESTED', { reason: 'scheduled', targetSpec: TARGET }), 3600);
  await world.ledger.record(step('KEYS_LISTED', { keys: superseded }));
  await world.ledger.record(step('KEY_CREATED', { newKey }));
  await world.ledger.record(step('KEY_ASSOCIATED', { newKey }));
  await world.ledger.record(step('KEY_SENT', { newKey, keys: superseded }));
}

/**
 * Leaves `world`'s ledger as the reaper does once it completed the rotation {@link issuerSent}
 * started: EDGE_UPDATED, KEYS_RETIRED (`retired`) and COMPLETED, lock released.
 */
export async function reaperCompleted(
  world: Pick<FakeWorld, 'ledger' | 'clock'>,
  newKey: KeyRef,
  retired: readonly KeyRef[],
): Promise<void> {
  const step = stepsOf(
    'key-reaper',
    { rotationId: ROTATION_ID, target: TARGET.name },
    actor(API_ACCOUNT, 'keyrot-key-reaper'),
    world.clock,
  );
  const at = world.clock.now().toISOString();
  await world.ledger.record(
    step('EDGE_UPDATED', { newKey, updatedAt: at, previousFingerprint: null }),
  );
  const fields = { newKey, keys: retired, previousFingerprint: null };
  await world.ledger.record(step('KEYS_RETIRED', { ...fields, protected: 0, graceSeconds: 0 }));
  await world.ledger.finish(step('COMPLETED', { newKey, keys: retired, targetSpec: TARGET }));
}
