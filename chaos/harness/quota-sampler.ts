import { call, sleep } from './http';

/** A moment when GET /v1/quota showed a limit exceeded. */
export interface QuotaViolation {
  at: number;
  limit: string;
  value: { limit: number; used: number; reserved: number };
}

/** Samples the tenant's GET /v1/quota every `everyMs` and keeps every limit seen exceeded. */
export class QuotaSampler {
  samples = 0;
  readonly violations: QuotaViolation[] = [];
  /** Highest in-flight count seen. */
  peakInFlight = 0;
  private running = false;
  private loop: Promise<void> = Promise.resolve();

  constructor(
    private readonly api: string,
    private readonly key: string,
    private readonly everyMs = 1000,
  ) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.sample();
        await sleep(this.everyMs);
      }
    })();
  }

  private async sample(): Promise<void> {
    const r = await call(this.api, 'GET', '/v1/quota', { key: this.key, timeoutMs: 3000 }).catch(
      () => undefined,
    );
    if (r?.status !== 200) return;
    this.samples++;
    const limits = r.body.limits as Record<string, { limit: number; used: number; reserved: number }>;
    for (const [name, v] of Object.entries(limits)) {
      // Reservations count against a limit as if used: used + reserved may never pass it.
      if (v.used + v.reserved > v.limit)
        this.violations.push({
          at: Date.now(),
          limit: name,
          value: { limit: v.limit, used: v.used, reserved: v.reserved },
        });
    }
    this.peakInFlight = Math.max(this.peakInFlight, limits.max_in_flight?.reserved ?? 0);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
