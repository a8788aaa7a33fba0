/**
 * @keyrot/shared's surface: exactly what the services, the CLI, the harness, the benchmark
 * and the tests import, named one by one so that what the package offers is a decision, not
 * whatever a module happens to export. A name a module exports for its own use (or its
 * siblings') stays out; add a name here when another package needs it.
 */
// SDK client settings
export { AWS_RETRY } from './aws/config';
// API Gateway keys
export {
  ApiGatewayKeyStore,
  apiKeyArn,
  KEY_TAGS,
  type KeyDescription,
  type KeyStore,
  type NamedKey,
  type PlanKey,
} from './aws/key-store';
// one-time EventBridge Scheduler schedules: a function's later tries
export {
  atExpression,
  OneTimeSchedules,
  type OneTimeSchedulesOptions,
  scheduleDigest,
  schedulesOptionsFrom,
} from './aws/schedules';
// pacing of rate-limited AWS calls
export {
  AWS_CALL_QUOTAS,
  DEFAULT_FUNCTION_BUDGET_SHARE,
  paceCalls,
  PacingRegistry,
  shareOf,
} from './aws/pacing';
// putting events on a bus
export { EventBridgePublisher, type EventPublisher, type RequestFanOut } from './aws/publisher';
// the current-key reference in the edge account (Secrets Manager)
export {
  type CurrentKeyReference,
  currentKeySecretArnPattern,
  currentKeySecretName,
  currentKeyVersionId,
  type RestoreResult,
  SecretsManagerCurrentKey,
} from './aws/current-key';
// KMS sealing of key values
export { type KeySealer, KmsKeySealer, rotationContext } from './aws/sealer';
// typed errors
export {
  AwsCallError,
  DeploymentTimeoutError,
  EdgeDriftError,
  type ErrorSummary,
  IntegrityError,
  InvalidInputError,
  KeyNotAcceptedError,
  KeyrotError,
  OriginNotFoundError,
  PublishError,
  ResourceNotFoundError,
  summarizeError,
  UntrustedEventError,
} from './errors';
// the event contract: envelopes, detail schemas and types, targets
export {
  type Actor,
  DETAIL_SCHEMAS,
  type DetailOf,
  type DetailType,
  CLOUDTRAIL_DETAIL_TYPE,
  type EdgeCheckTrigger,
  parseDriftGuardTargets,
  parseEdgeCheckTrigger,
  SCHEDULED_DETAIL_TYPE,
  type EdgeDeploymentCheck,
  type EdgeHealed,
  type EdgeHealFailed,
  type EdgeHealRequested,
  type EdgeObserved,
  type ObservationTrigger,
  OBSERVATION_TRIGGERS,
  type EdgeUpdated,
  type EdgeUpdateRetry,
  type RetireRetry,
  EVENT_SOURCE,
  type FanOutRequest,
  isFanOut,
  type KeyCreated,
  type KeyRef,
  type KeyRetired,
  kmsKeyArnSchema,
  parseDetail,
  parseEvent,
  type RotationFailed,
  type RotationReason,
  type RotationRequest,
  SCHEMA_VERSION,
  type SeedInput,
  type Target,
  targetSchema,
  type Trust,
  ROTATION_FAILED_VERSION,
} from './events';
// the Lambda entries' clients
export { lambdaClients, lazyHandler } from './lambda';
// the ledger: table, steps, writes and queries
export {
  type AdoptedKey,
  type AdoptResult,
  type BeginResult,
  type CurrentKeyRecord,
  DEFAULT_LOCK_SECONDS,
  DynamoDbLedger,
  DynamoDbLedgerQueries,
  type Ledger,
  type LedgerQueries,
  ledgerTableDefinition,
  type Lock,
  monthsBetween,
  stepSortKey,
  type TargetRecord,
  type TargetState,
  type TimeRange,
  withStepLogging,
} from './ledger';
// logging
export { createLogger, type KeyrotLogger, redactingReplacer } from './log';
// the targets manifest (keyrot.targets.yml)
export {
  DEFAULT_KEY_AGE_POLICY_DAYS,
  DEFAULT_ROTATION_SCHEDULE,
  distinctOf,
  ManifestError,
  type ManifestTarget,
  parseTargetsManifest,
  TARGETS_MANIFEST_FILE,
  targetOf,
  type TargetsManifest,
} from './manifest';
// metrics
export { type AnyClient, createMetrics, type KeyrotMetrics, MetricUnit } from './metrics';
// handler plumbing: event acceptance, configuration, clock
export {
  acceptEvent,
  byDetailType,
  accountIdSchema,
  actorOf,
  type Clock,
  envVar,
  functionConfigFields,
  type HandlerResult,
  publishFailure,
  publishOrLog,
  readConfig,
  rotationIdFor,
  systemClock,
} from './runtime';
// key values and fingerprints
export { fingerprintOf, SecretValue } from './secret';
// The rotation protocol: its own index names what it offers (shared/src/rotation/index.ts).
export * from './rotation';
