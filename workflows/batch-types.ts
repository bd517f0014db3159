/** Input and outcome of `batchWorkflow` (a leaf: the contract module re-exports these). */

/** Input of `batchWorkflow`; the items themselves are in PostgreSQL. */
export interface BatchWorkflowInput {
  batchId: string;
  tenantId: string;
  /** Most children running at once. */
  concurrency: number;
  /** Children one run starts before it continues as new (bounds the history). */
  itemsPerRun: number;
  /** Bytes of item inputs one page brings into history. */
  pageBytes: number;
  /** Run timeout of each child (the request deadline plus a margin), seconds. @default none */
  childRunTimeoutS?: number;
  /** First item index this run starts (0 on the first run; set by continue-as-new). @default 0 */
  nextIdx?: number;
}

/** How a batch ended. */
export interface BatchOutcome {
  status: 'completed' | 'cancelled';
  /** Index after the last item started. */
  nextIdx: number;
}
