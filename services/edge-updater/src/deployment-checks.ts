import type { EdgeDeploymentCheck, EdgeUpdateRetry } from '@keyrot/shared';

/**
 * Port: the edge-updater's later tries, in its own account. A deployment that outlasts one
 * invocation is looked at again (`EdgeDeploymentCheck`); a header write that failed on a
 * transient cause is tried again (`EdgeUpdateRetry`). Each arrives as an event at (or soon
 * after) `at`; scheduling the same one twice (same rotation, same number) schedules it once.
 */
export interface DeploymentChecks {
  schedule(check: EdgeDeploymentCheck, at: Date): Promise<'scheduled' | 'already-scheduled'>;
  retry(retry: EdgeUpdateRetry, at: Date): Promise<'scheduled' | 'already-scheduled'>;
}
