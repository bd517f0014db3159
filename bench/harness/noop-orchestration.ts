import type { OrchestrationActivities } from '../../activities';

const noop = async (): Promise<void> => undefined;

/** Orchestration activities that do nothing and admit every request: the bare cost of the workflow. */
export const noopOrchestration: OrchestrationActivities = {
  admitRequest: async () => ({ admitted: true }),
  recordResult: noop,
  commitUsage: noop,
  completeRequest: noop,
  failRequest: noop,
};
