import * as z from 'zod';
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
] as const;
export type DetailType = (typeof DETAIL_TYPES)[number];

const version = z.literal(SCHEMA_VERSION, { error: `must be ${SCHEMA_VERSION}` });
export const rotationIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{8,96}$/, { error: 'must be 8-96 letters, digits, _ or -' });
const isoTime = z.iso.datetime({ offset: true });
export const fingerprintSchema = z
  .string()
  .regex(/^[0-9a-f]{12}$/, { error: 'must be 12 lowercase hex digits' });

/** A KMS key ARN (not an alias: encryption context and key policy are per key). */
export const kmsKeyArnSchema = z
  .string()
  .regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/, {
    error: 'must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)',
  });

/** An API key as keyrot refers to it: by id and fingerprint, never by value. */
export const keyRefSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9]{1,64}$/, { error: 'must be an API key id' }),
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
  rotationId: rotationIdSchema.optional(),
  reason: z.enum(ROTATION_REASONS).default('manual'),
  requestedBy: z.string().max(256).optional(),
});

export interface RotationRequest {
  readonly target: z.output<typeof targetSchema>;
  readonly rotationId?: string;
  readonly reason: RotationReason;
  readonly requestedBy?: string;
}

/**
 * `KeyRotationRequested` accepts the structured form, or the seed's flat scheduler input as
 * is (then the reason is `scheduled`).
 */
export const keyRotationRequestedSchema: z.ZodType<RotationRequest, unknown> = z.union([
  structuredRequestSchema,
  seedInputSchema.transform((target): RotationRequest => ({ target, reason: 'scheduled' })),
]);

export const keyCreatedSchema = z.strictObject({
  ...rotationBase,
  newKey: keyRefSchema,
  /** Keys of that name on the plan when the new one was made: the edge may replace only these. */
  supersededKeys: z.array(keyRefSchema).max(100),
  /** The new key's value, KMS-encrypted with the edge account's key; base64. */
  encryptedValue: z.string().min(1).max(8192),
  kmsKeyArn: kmsKeyArnSchema,
  issuedAt: isoTime,
});
export type KeyCreated = z.output<typeof keyCreatedSchema>;

const actorSchema = z.strictObject({
  function: z.string().max(256),
  account: z.string().regex(/^\d{12}$/),
  requestId: z.string().max(256).optional(),
});
export type Actor = z.output<typeof actorSchema>;

export const edgeUpdatedSchema = z.strictObject({
  ...rotationBase,
  newKey: keyRefSchema,
  /** Fingerprint of the header value before this rotation (null when the header was absent). */
  previousFingerprint: fingerprintSchema.nullable(),
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

export const rotationFailedSchema = z.strictObject({
  ...rotationBase,
  stage: z.enum(FAILURE_STAGES),
  error: z.strictObject({
    name: z.string().max(128),
    message: z.string().max(2048),
    field: z.string().max(256).optional(),
    retryable: z.boolean(),
  }),
  newKey: keyRefSchema.optional(),
  /** Whether the edge may be sending the new key: if so, it must not be rolled back. */
  edgeUpdated: z.boolean(),
  /** Whether the new key was removed again before the event was emitted. */
  rolledBack: z.boolean(),
  failedAt: isoTime,
  actor: actorSchema,
});
export type RotationFailed = z.output<typeof rotationFailedSchema>;

export const DETAIL_SCHEMAS = {
  KeyRotationRequested: keyRotationRequestedSchema,
  KeyCreated: keyCreatedSchema,
  EdgeUpdated: edgeUpdatedSchema,
  KeyRetired: keyRetiredSchema,
  RotationFailed: rotationFailedSchema,
} as const satisfies Record<DetailType, z.ZodType>;

export interface DetailOf {
  KeyRotationRequested: RotationRequest;
  KeyCreated: KeyCreated;
  EdgeUpdated: EdgeUpdated;
  KeyRetired: KeyRetired;
  RotationFailed: RotationFailed;
}
