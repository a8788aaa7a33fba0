import type { EdgeDeploymentCheck } from '@keyrot/shared';

/**
 * Port: a later look at a deployment that outlasts one invocation. The check arrives as an
 * `EdgeDeploymentCheck` event at (or soon after) `at`; scheduling the same check twice
 * (same rotation, same number) schedules it once.
 */
export interface DeploymentChecks {
  schedule(check: EdgeDeploymentCheck, at: Date): Promise<'scheduled' | 'already-scheduled'>;
}
