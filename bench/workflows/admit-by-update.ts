// Benchmark-only workflow: the "early return" alternative, where the API learns 202/429 from an
// update that runs the reservation inside the workflow (update-with-start).
import { condition, defineUpdate, proxyLocalActivities, setHandler } from '@temporalio/workflow';

export const admitUpdate = defineUpdate<boolean, []>('admit');

const { reserve } = proxyLocalActivities<{ reserve(id: string, tokens: number): Promise<boolean> }>({
  startToCloseTimeout: '5 seconds',
});

export async function admitByUpdateWorkflow(id: string, tokens: number): Promise<boolean> {
  let admitted: boolean | undefined;
  setHandler(admitUpdate, async () => {
    admitted = await reserve(id, tokens);
    return admitted;
  });
  await condition(() => admitted !== undefined);
  return admitted!;
}
