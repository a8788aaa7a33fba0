/**
 * The rotation protocol, and nothing else: the steps a rotation records, its state from
 * them, who may record what, what each service does from a state, which keys a rotation
 * supersedes, what the edge may send (the drift guard), the outcome metrics, and the lease that makes each once-only side effect happen
 * once. docs/invariants.md names the
 * invariants it keeps.
 */
export {
  OUTCOMES,
  STEP_ORDER,
  adoptionId,
  driftId,
  detailsOf,
  errorOf,
  isOutcome,
  keysOf,
  newKeyOf,
  reasonOf,
  rejectedRotationId,
  storedStep,
  type FailureStage,
  type Outcome,
  type Step,
  type StepFields,
  type StepOf,
  type StepRecord,
} from './steps';
export { lastCompletion, rotationState, type Phase, type RotationState } from './state';
export {
  STEP_RULES,
  closeAction,
  issuerAction,
  mayRollBack,
  recordsStep,
  refusalToRecord,
  retireAction,
  type CloseAction,
  type IssuerAction,
  type Recorder,
  type RetireAction,
} from './rules';
export {
  OUTCOME_METRICS,
  type DriftResult,
  type EdgeResult,
  type FanOutResult,
  type HealEdgeResult,
  type ObserveResult,
  type IssueResult,
  type OutcomeMetric,
  type ReaperResult,
  type RejectedResult,
  type ResultStatus,
  type RotationResult,
} from './results';
export {
  LEASE_MARGIN_MS,
  invocationOf,
  withLease,
  type ClaimResult,
  type Invocation,
  type Lease,
  type LeaseDeps,
  type LeaseStore,
} from './lease';
export { stepsOf } from './record';
export {
  DRIFT_REPEAT_WINDOW_MS,
  HEAL_RETRY_AFTER_MS,
  currentKeyOf,
  driftDecision,
  edgeExpectation,
  isAcceptable,
  type DriftDecision,
  type EdgeExpectation,
  type Observation,
} from './drift';
export {
  MAX_RETRY_DELAY_MS,
  MIN_RETRY_DELAY_MS,
  retryDelayAfterMs,
  retryDelayMs,
  tryLater,
  type LaterTry,
} from './retry';
export { adoptionCandidates, isManagedFor, supersededKeys, type KeyTags } from './supersede';
