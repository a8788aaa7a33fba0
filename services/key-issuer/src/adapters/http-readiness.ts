import { KeyNotAcceptedError, type Clock, type SecretValue } from '@keyrot/shared';
import type { KeyReadiness } from '../issue-key';

/**
 * {@link KeyReadiness} by probing the stage: GET `url` with the new key until API Gateway
 * answers 2xx (it takes a few seconds to honour a new key or association).
 */
export class HttpReadinessProbe implements KeyReadiness {
  constructor(
    private readonly url: string,
    private readonly headerName: string,
    private readonly timeoutMs: number,
    private readonly clock: Clock,
    private readonly intervalMs = 1000,
  ) {}

  async waitUntilAccepted(value: SecretValue): Promise<void> {
    const deadline = this.clock.now().getTime() + this.timeoutMs;
    let lastStatus: number;
    for (;;) {
      lastStatus = await fetch(this.url, { headers: { [this.headerName]: value.reveal() } })
        .then((response) => response.status)
        .catch(() => 0);
      if (lastStatus >= 200 && lastStatus < 300) return;
      if (this.clock.now().getTime() >= deadline) break;
      await this.clock.sleep(this.intervalMs);
    }
    throw new KeyNotAcceptedError(this.url, lastStatus, this.timeoutMs / 1000);
  }
}
