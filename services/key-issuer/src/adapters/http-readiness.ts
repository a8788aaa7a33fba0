import { KeyNotAcceptedError, type Clock, type SecretValue, type Target } from '@keyrot/shared';
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

/**
 * {@link KeyReadiness} for a fleet: each target probed at its own readiness URL
 * (`HEALTH_CHECK_URLS`, from keyrot.targets.yml), with its own header name; a target without
 * one falls back to `fallbackUrl` (`HEALTH_CHECK_URL`), and with neither is not probed.
 */
export class ReadinessByTarget implements KeyReadiness {
  constructor(
    private readonly urls: Readonly<Record<string, string>>,
    private readonly fallbackUrl: string | undefined,
    private readonly timeoutMs: number,
    private readonly clock: Clock,
    private readonly intervalMs = 1000,
  ) {}

  /** Whether any target would be probed (else the issuer needs no readiness step). */
  get probesAny(): boolean {
    return Boolean(this.fallbackUrl) || Object.keys(this.urls).length > 0;
  }

  async waitUntilAccepted(value: SecretValue, target: Target): Promise<void> {
    const url = this.urls[target.name] ?? this.fallbackUrl;
    if (!url) return;
    const probe = new HttpReadinessProbe(
      url,
      target.headerName,
      this.timeoutMs,
      this.clock,
      this.intervalMs,
    );
    await probe.waitUntilAccepted(value);
  }
}
