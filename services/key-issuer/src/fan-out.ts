import type {
  FanOutRequest,
  HandlerResult,
  KeyrotLogger,
  RequestFanOut,
  RotationRequest,
} from '@keyrot/shared';

export interface FanOutDeps {
  readonly fanOut: RequestFanOut;
  readonly log: KeyrotLogger;
}

/**
 * Rotation id of the `index`-th target of a fan-out request: derived from the request's own
 * id, so a redelivered request puts the same rotations again and the issuer treats the second
 * copy of each as the duplicate it is.
 */
export function fannedOutRotationId(requestRotationId: string, index: number): string {
  return `${requestRotationId}_${String(index).padStart(4, '0')}`;
}

/**
 * Turns a request naming many targets into one `KeyRotationRequested` per target (structured
 * form, rotation id fixed), each then rotated on its own: its own lock, its own ledger
 * history. Throws if any could not be put, so the request is retried as a whole.
 */
export async function fanOut(
  request: FanOutRequest,
  requestRotationId: string,
  deps: FanOutDeps,
): Promise<HandlerResult> {
  const requests = request.targets.map((target, index): RotationRequest & { version: 1 } => ({
    version: 1,
    target,
    reason: request.reason,
    rotationId: fannedOutRotationId(requestRotationId, index),
    ...(request.requestedBy !== undefined && { requestedBy: request.requestedBy }),
  }));
  await deps.fanOut.publishRequests(requests);
  deps.log.info('rotation requests fanned out, one per target', {
    rotationId: requestRotationId,
    targets: requests.length,
  });
  return { status: 'fanned-out', rotationId: requestRotationId };
}
