import { Periodic } from '../shared/periodic';
import type { Logger } from '../observability/logger';
import type { BatchGateway } from './batch-gateway';
import type { BatchRepo } from './batch-repo';
import type { FileBatchMetrics } from './file-batch-metrics';

/** Options of {@link BatchExpirySweep}. */
export interface BatchExpiryDeps {
  batches: Pick<BatchRepo, 'requestExpiry' | 'expiring'>;
  gateway: Pick<BatchGateway, 'cancel'>;
  metrics: FileBatchMetrics;
  logger: Logger;
  /** Batches stopped per sweep. @default 100 */
  perSweep?: number;
}

/**
 * Stops batches whose completion window has passed: each is marked `cancelling` with its expiry
 * asked, and its workflow cancelled; the workflow cancels the running items and ends the batch
 * through the finish activity, which makes it `expired` and reports every line not run with
 * `batch_expired` in the error file. Lines never started are charged nothing. Every API replica
 * sweeps; a batch is stopped by one of them (the marking is one row update each).
 */
export class BatchExpirySweep {
  private readonly periodic = new Periodic(
    () => this.sweep(),
    (err) => this.deps.logger.warn({ err }, 'batch expiry sweep failed'),
  );

  constructor(private readonly deps: BatchExpiryDeps) {}

  /** One sweep: the batches it stopped. */
  async sweep(): Promise<number> {
    const { batches, gateway, logger } = this.deps;
    const limit = this.deps.perSweep ?? 100;
    const ids = await batches.requestExpiry({ limit });
    // Also those marked by a replica that stopped before it cancelled their workflows.
    const stale = await batches.expiring(limit);
    for (const id of new Set([...ids, ...stale])) {
      await gateway.cancel(id);
      if (ids.includes(id)) {
        this.deps.metrics.expiries.inc();
        logger.info({ batchId: id }, 'batch expired: its completion window has passed; stopping it');
      }
    }
    return ids.length;
  }

  /** Sweeps every `intervalMs` until {@link stop}. */
  start(intervalMs: number): void {
    this.periodic.start(intervalMs);
  }

  /** Stops sweeping and waits for a sweep under way. */
  async stop(): Promise<void> {
    await this.periodic.stop();
  }
}
