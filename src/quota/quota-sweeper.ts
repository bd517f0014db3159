import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { Periodic } from '../shared/periodic';
import type { QuotaStore } from './quota-store';

/**
 * Periodically reclaims reservations whose workflow vanished (terminated, or the API died before
 * starting it). Runs in every orchestration worker replica: safe, because a reservation is reclaimed
 * only from state 'reserved' in one atomic step (sweep.lua), so each is reclaimed once (docs/quota.md).
 */
export class QuotaSweeper {
  private readonly periodic = new Periodic(
    () => this.sweepOnce(),
    (err) => this.logger.error({ err }, 'quota sweep failed'),
  );

  constructor(
    private readonly quota: QuotaStore,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly intervalS: number,
    /**
     * Told each reclaimed reservation, to end its request row when no workflow will
     * (see AbandonedRequests). Its failure is logged; the reservation stays reclaimed. @default none
     */
    private readonly onReclaimed?: (requestId: string) => Promise<unknown>,
  ) {}

  /** One pass over every tenant (or only `tenant`); returns how many reservations were reclaimed. */
  async sweepOnce(tenant?: string): Promise<number> {
    let total = 0;
    for (const t of tenant ? [tenant] : await this.quota.tenants()) {
      total += await this.sweepTenant(t);
    }
    return total;
  }

  private async sweepTenant(tenant: string): Promise<number> {
    const reclaimed = await this.quota.sweep(tenant);
    for (const r of reclaimed) {
      this.metrics.quotaReclaimed.inc({ tenant });
      this.logger.warn(
        { tenant, requestId: r.requestId, tokens: r.tokens },
        'abandoned reservation reclaimed',
      );
      await this.onReclaimed?.(r.requestId).catch((err: unknown) =>
        this.logger.error({ err, requestId: r.requestId }, 'could not end an abandoned request'),
      );
    }
    return reclaimed.length;
  }

  start(): void {
    this.periodic.start(this.intervalS * 1000);
  }

  async stop(): Promise<void> {
    await this.periodic.stop();
  }
}
