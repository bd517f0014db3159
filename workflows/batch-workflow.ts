import {
  CancellationScope,
  CancelledFailure,
  continueAsNew,
  executeChild,
  isCancellation,
  ParentClosePolicy,
  proxyActivities,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchActivities } from '../activities';
import { InferenceStatusKey, ModelKey, TenantIdKey } from '../src/shared/search-attributes';
import type { InferenceInput } from '../src/shared/types';
import type { BatchOutcome, BatchWorkflowInput } from './batch-types';
import { inferenceWorkflow } from './inference-workflow';

const batch = proxyActivities<BatchActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

/**
 * Runs a batch: each item becomes a child `inferenceWorkflow` (workflow id = its request id, so it is
 * a request like any other: its admit step reserves quota and may reject it). At most `concurrency`
 * children run at once; every `itemsPerRun` items the run drains its children and continues as new.
 * Cancel (Temporal, or `cancelling` in PostgreSQL): running children are cancelled, the rest marked
 * cancelled.
 */
export async function batchWorkflow(input: BatchWorkflowInput): Promise<BatchOutcome> {
  let next = input.nextIdx ?? 0;
  const children = new CancellationScope();
  const running = new Set<Promise<void>>();
  let started = 0;

  const startChild = (item: InferenceInput): void => {
    const p: Promise<void> = children
      .run(() =>
        executeChild(inferenceWorkflow, {
          workflowId: item.requestId,
          args: [item],
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          ...(input.childRunTimeoutS ? { workflowRunTimeout: `${input.childRunTimeoutS}s` } : {}),
          typedSearchAttributes: [
            { key: TenantIdKey, value: item.tenantId },
            { key: ModelKey, value: item.model },
          ],
          memo: { tenantId: item.tenantId, model: item.model, batchId: input.batchId },
        }),
      )
      // The request row holds each child's outcome; a failed, rejected or cancelled child is normal here.
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => running.delete(p));
    running.add(p);
  };
  const throwIfCancelled = (): void => {
    if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('batch cancelled');
  };

  try {
    if (next === 0) {
      const status = await batch.startBatch(input.batchId);
      upsertSearchAttributes([{ key: InferenceStatusKey, value: 'running' }]);
      if (status === 'cancelling') throw new CancelledFailure('batch cancelled before it started');
    }
    for (;;) {
      throwIfCancelled();
      if (started >= input.itemsPerRun || workflowInfo().continueAsNewSuggested) {
        while (running.size) await Promise.race(running);
        throwIfCancelled();
        return await continueAsNew<typeof batchWorkflow>({ ...input, nextIdx: next });
      }
      const page = await batch.nextItems(
        input.batchId,
        next,
        Math.min(input.itemsPerRun - started, 500),
        input.pageBytes,
      );
      if (page.cancelling) throw new CancelledFailure('batch cancelled');
      if (!page.items.length) break;
      for (const item of page.items) {
        while (running.size >= input.concurrency) await Promise.race(running);
        throwIfCancelled();
        startChild(item.input);
        next = item.idx + 1;
        started++;
      }
    }
    while (running.size) await Promise.race(running);
    throwIfCancelled();
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Running children are cancelled and settle their own requests (quota released, output so far
    // charged); the batch ends once they have.
    await CancellationScope.nonCancellable(async () => {
      children.cancel();
      await Promise.all(running);
      await batch.finishBatch(input.batchId, next, true);
    });
    upsertSearchAttributes([{ key: InferenceStatusKey, value: 'cancelled' }]);
    throw err;
  }
  const status = await batch.finishBatch(input.batchId, next, false);
  upsertSearchAttributes([
    { key: InferenceStatusKey, value: status === 'cancelled' ? 'cancelled' : 'completed' },
  ]);
  return { status: status === 'cancelled' ? 'cancelled' : 'completed', nextIdx: next };
}
