import './messages';
import * as z from 'zod/mini';
import { seedInputSchema, targetSchema } from './target';

/** Version of the `detail` contract; bump on any incompatible change. */
export const SCHEMA_VERSION = 1;
export const EVENT_SOURCE = 'keyrot';

export const DETAIL_TYPES = [
  'KeyRotationRequested',
  'KeyCreated',
  'EdgeUpdated',
  'KeyRetired',
  'RotationFailed',
  'EdgeDeploymentCheck',
  'EdgeUpdateRetry',
  'RetireRetry',
  'EdgeObserved',
  'EdgeHealRequested',
  'EdgeHealed',
  'EdgeHealFailed',
] as const;
export type DetailType = (typeof DETAIL_TYPES)[number];

const version = z.literal(SCHEMA_VERSION, { error: `must be ${SCHEMA_VERSION}` });
export const rotationIdSchema = z
  .string()
  .check(z.regex(/^[A-Za-z0-9_-]{8,96}$/, { error: 'must be 8-96 letters, digits, _ or -' }));
const isoTime = z.iso.datetime({ offset: true });
export const fingerprintSchema = z
  .string()
  .check(z.regex(/^[0-9a-f]{12}$/, { error: 'must be 12 lowercase hex digits' }));

/** A KMS key ARN (not an alias: encryption context and key policy are per key). */
export const kmsKeyArnSchema = z.string().check(
  z.regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/, {
    error: 'must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)',
  }),
);

/** An API key as keyrot refers to it: by id and fingerprint, never by value. */
export const keyRefSchema = z.strictObject({
  id: z.string().check(z.regex(/^[A-Za-z0-9]{1,64}$/, { error: 'must be an API key id' })),
  fingerprint: fingerprintSchema,
});
export type KeyRef = z.output<typeof keyRefSchema>;

const rotationBase = {
  version,
  rotationId: rotationIdSchema,
  target: targetSchema,
};

export const ROTATION_REASONS = ['scheduled', 'manual', 'emergency'] as const;
export type RotationReason = (typeof ROTATION_REASONS)[number];

/** The structured request form (the CLI and fan-out send this). */
const structuredRequestSchema = z.strictObject({
  version,
  target: targetSchema,
  rotationId: z.optional(rotationIdSchema),
  reason: z._default(z.enum(ROTATION_REASONS), 'manual'),
  requestedBy: z.optional(z.string().check(z.maxLength(256))),
});

export interface RotationRequest {
  readonly target: z.output<typeof targetSchema>;
  readonly rotationId?: string;
  readonly reason: RotationReason;
  readonly requestedBy?: string;
}

/** Most targets one request may name: one event must stay under EventBridge's 256 KB. */
export const MAX_FAN_OUT_TARGETS = 1000;

/**
 * Many targets in one request (the schedule's input for a fleet): each entry is a target in
 * the structured form or the seed's flat form. The issuer turns it into one
 * `KeyRotationRequested` per target, each with its own lock and ledger history.
 */
const fanOutRequestSchema = z.strictObject({
  version: z.optional(version),
  targets: z.array(z.union([targetSchema, seedInputSchema])).check(
    z.minLength(1, { error: 'must name at least one target' }),
    z.maxLength(MAX_FAN_OUT_TARGETS, { error: `must name at most ${MAX_FAN_OUT_TARGETS} targets` }),
    z.refine((targets) => new Set(targets.map((t) => t.name)).size === targets.length, {
      error: 'must not name a target twice (target names are lock names)',
    }),
  ),
  reason: z._default(z.enum(ROTATION_REASONS), 'scheduled'),
  requestedBy: z.optional(z.string().check(z.maxLength(256))),
});

export interface FanOutRequest {
  readonly targets: readonly z.output<typeof targetSchema>[];
  readonly reason: RotationReason;
  readonly requestedBy?: string;
}

/** A request naming many targets (see {@link FanOutRequest}). */
export function isFanOut(request: RotationRequest | FanOutRequest): request is FanOutRequest {
  return 'targets' in request;
}

/**
 * `KeyRotationRequested` accepts the structured form, the seed's flat scheduler input as is
 * (then the reason is `scheduled`), or a `targets` list to fan out.
 */
export const keyRotationRequestedSchema: z.ZodMiniType<RotationRequest | FanOutRequest, unknown> =
  z.union([
    structuredRequestSchema,
    z.pipe(
      seedInputSchema,
      z.transform((target): RotationRequest => ({ target, reason: 'scheduled' })),
    ),
    fanOutRequestSchema,
  ]);

export const keyCreatedSchema = z.strictObject({
  ...rotationBase,
  newKey: keyRefSchema,
  /** Keys of that name on the plan when the new one was made: the edge may replace only these. */
  supersededKeys: z.array(keyRefSchema).check(z.maxLength(100)),
  /** The new key's value, KMS-encrypted with the edge account's key; base64. */
  encryptedValue: z.string().check(z.minLength(1), z.maxLength(8192)),
  kmsKeyArn: kmsKeyArnSchema,
  issuedAt: isoTime,
});
export type KeyCreated = z.output<typeof keyCreatedSchema>;

const actorSchema = z.strictObject({
  function: z.string().check(z.maxLength(256)),
  account: z.string().check(z.regex(/^\d{12}$/)),
  requestId: z.optional(z.string().check(z.maxLength(256))),
});
export type Actor = z.output<typeof actorSchema>;

export const edgeUpdatedSchema = z.strictObject({
  ...rotationBase,
  newKey: keyRefSchema,
  /** Fingerprint of the header value before this rotation (null when the header was absent). */
  previousFingerprint: z.nullable(fingerprintSchema),
  updatedAt: isoTime,
  deployedAt: isoTime,
  actor: actorSchema,
});
export type EdgeUpdated = z.output<typeof edgeUpdatedSchema>;

export const keyRetiredSchema = z.strictObject({
  ...rotationBase,
  newKey: keyRefSchema,
  retiredKeys: z.array(keyRefSchema),
  completedAt: isoTime,
});
export type KeyRetired = z.output<typeof keyRetiredSchema>;

export const FAILURE_STAGES = ['issue', 'edge', 'retire'] as const;

const failureFields = {
  rotationId: rotationIdSchema,
  target: targetSchema,
  stage: z.enum(FAILURE_STAGES),
  error: z.strictObject({
    name: z.string().check(z.maxLength(128)),
    message: z.string().check(z.maxLength(2048)),
    field: z.optional(z.string().check(z.maxLength(256))),
    retryable: z.boolean(),
  }),
  newKey: z.optional(keyRefSchema),
  /** Whether the new key was removed again before the event was emitted. */
  rolledBack: z.boolean(),
  failedAt: isoTime,
  actor: actorSchema,
};

/** `RotationFailed`'s version: 2 named `edgeUpdated` (1) for what it means. */
export const ROTATION_FAILED_VERSION = 2;

const rotationFailedV2Schema = z.strictObject({
  version: z.literal(ROTATION_FAILED_VERSION),
  ...failureFields,
  /** Whether the edge may send the new key: if so, it must not be rolled back. */
  newKeyMayBeAtEdge: z.boolean(),
});

/** Version 1, still accepted (an event in flight or in a dead-letter queue at upgrade). */
const rotationFailedV1Schema = z.pipe(
  z.strictObject({ version: z.literal(1), ...failureFields, edgeUpdated: z.boolean() }),
  z.transform(({ edgeUpdated, ...rest }): z.output<typeof rotationFailedV2Schema> => ({
    ...rest,
    version: ROTATION_FAILED_VERSION,
    newKeyMayBeAtEdge: edgeUpdated,
  })),
);

/** Read as version 2 whichever version was sent. */
export const rotationFailedSchema = z.union([rotationFailedV2Schema, rotationFailedV1Schema]);
export type RotationFailed = z.output<typeof rotationFailedSchema>;

/**
 * The edge-updater's reminder to itself, in the edge account, to look at a deployment again
 * when `Deployed` outlasts one Lambda run: EventBridge Scheduler puts it on the edge bus at
 * the scheduled time. It refers to the key by id and fingerprint only (the header is set).
 */
export const edgeDeploymentCheckSchema = z.strictObject({
  ...rotationBase,
  newKey: keyRefSchema,
  previousFingerprint: z.nullable(fingerprintSchema),
  /** When the edge wrote the header. */
  updatedAt: isoTime,
  /** When the edge stops waiting and reports the rotation as failed. */
  deadline: isoTime,
  /** 1 for the first re-check. Names its schedule, so a duplicate schedules nothing twice. */
  check: z.int().check(z.gte(1), z.lte(10_000)),
  /**
   * What the wait is for: a rotation's header write (absent: what every check before the
   * drift guard was) announces `EdgeUpdated`; a heal's announces `EdgeHealed`.
   */
  purpose: z.optional(z.enum(['rotation', 'heal'])),
});
export type EdgeDeploymentCheck = z.output<typeof edgeDeploymentCheckSchema>;

/**
 * The edge-updater's reminder to itself, in the edge account, to try writing the header again
 * after a transient failure (throttling, a 5xx) outlasted the SDK's retries: EventBridge
 * Scheduler puts it on the edge bus after a growing delay, until the rotation's deadline. It
 * carries the `KeyCreated` it retries (the value sealed as before: KMS ciphertext bound to
 * the rotation).
 */
export const edgeUpdateRetrySchema = z
  .strictObject({
    ...rotationBase,
    keyCreated: keyCreatedSchema,
    /** 1 for the first retry. Names its schedule, so a duplicate schedules nothing twice. */
    attempt: z.int().check(z.gte(1), z.lte(1000)),
  })
  .check(
    z.refine((r) => r.keyCreated.rotationId === r.rotationId, {
      error: 'must be the rotation of keyCreated',
      path: ['rotationId'],
    }),
  );
export type EdgeUpdateRetry = z.output<typeof edgeUpdateRetrySchema>;

/**
 * The reaper's reminder to itself, in the API account, to delete the superseded keys again
 * after a transient failure outlasted the SDK's retries. It names the rotation only: what
 * the edge reported is read back from the ledger (EDGE_UPDATED, recorded from the real
 * `EdgeUpdated`), so it can claim nothing the edge did not say.
 */
export const retireRetrySchema = z.strictObject({
  ...rotationBase,
  /** 1 for the first retry. Names its schedule, so a duplicate schedules nothing twice. */
  attempt: z.int().check(z.gte(1), z.lte(1000)),
});
export type RetireRetry = z.output<typeof retireRetrySchema>;

/** What made the edge-updater look at a target's header (docs/operations.md, "Drift guard"). */
export const OBSERVATION_TRIGGERS = ['cloudtrail', 'schedule'] as const;
export type ObservationTrigger = (typeof OBSERVATION_TRIGGERS)[number];

/**
 * The drift guard's observation, from the edge account: the header a target's distribution
 * sends now, by fingerprint (null: the origin sends no such header). The API side decides
 * whether it is a key the edge may send (shared/src/rotation/drift.ts).
 */
export const edgeObservedSchema = z.strictObject({
  version,
  target: targetSchema,
  fingerprint: z.nullable(fingerprintSchema),
  observedAt: isoTime,
  trigger: z.enum(OBSERVATION_TRIGGERS),
  actor: actorSchema,
});
export type EdgeObserved = z.output<typeof edgeObservedSchema>;

/**
 * The API side's request to put the target's current key back at the edge, after the edge was
 * seen sending a key that is not live (a heal). The value is sealed as a rotation's new key is
 * (KMS, the edge account's key, context bound to the heal's ledger record and the key); the
 * edge may replace only a header whose fingerprint is in `supersededFingerprints` (none listed:
 * only a missing header).
 */
export const edgeHealRequestedSchema = z.strictObject({
  ...rotationBase,
  /** The key to put back: the target's current key. */
  newKey: keyRefSchema,
  supersededFingerprints: z.array(fingerprintSchema).check(z.maxLength(10)),
  encryptedValue: z.string().check(z.minLength(1), z.maxLength(8192)),
  kmsKeyArn: kmsKeyArnSchema,
  requestedAt: isoTime,
});
export type EdgeHealRequested = z.output<typeof edgeHealRequestedSchema>;

/** The edge sends the healed key everywhere (`deployedAt`): the heal is done. */
export const edgeHealedSchema = z.strictObject({
  ...rotationBase,
  newKey: keyRefSchema,
  previousFingerprint: z.nullable(fingerprintSchema),
  updatedAt: isoTime,
  deployedAt: isoTime,
  actor: actorSchema,
});
export type EdgeHealed = z.output<typeof edgeHealedSchema>;

/** The edge could not heal (the header changed again, the write or the wait failed). */
export const edgeHealFailedSchema = z.strictObject({
  ...rotationBase,
  newKey: keyRefSchema,
  error: failureFields.error,
  failedAt: isoTime,
  actor: actorSchema,
});
export type EdgeHealFailed = z.output<typeof edgeHealFailedSchema>;

export const DETAIL_SCHEMAS = {
  KeyRotationRequested: keyRotationRequestedSchema,
  KeyCreated: keyCreatedSchema,
  EdgeUpdated: edgeUpdatedSchema,
  KeyRetired: keyRetiredSchema,
  RotationFailed: rotationFailedSchema,
  EdgeDeploymentCheck: edgeDeploymentCheckSchema,
  EdgeUpdateRetry: edgeUpdateRetrySchema,
  RetireRetry: retireRetrySchema,
  EdgeObserved: edgeObservedSchema,
  EdgeHealRequested: edgeHealRequestedSchema,
  EdgeHealed: edgeHealedSchema,
  EdgeHealFailed: edgeHealFailedSchema,
} as const satisfies Record<DetailType, z.ZodMiniType>;

export interface DetailOf {
  KeyRotationRequested: RotationRequest | FanOutRequest;
  KeyCreated: KeyCreated;
  EdgeUpdated: EdgeUpdated;
  KeyRetired: KeyRetired;
  RotationFailed: RotationFailed;
  EdgeDeploymentCheck: EdgeDeploymentCheck;
  EdgeUpdateRetry: EdgeUpdateRetry;
  RetireRetry: RetireRetry;
  EdgeObserved: EdgeObserved;
  EdgeHealRequested: EdgeHealRequested;
  EdgeHealed: EdgeHealed;
  EdgeHealFailed: EdgeHealFailed;
}
