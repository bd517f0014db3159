import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { quietRuntime } from '../support/temporal';

quietRuntime();

/**
 * Histories recorded from real runs (`temporal workflow show -w <id> --output json`) must replay
 * against the current workflow code: a change that breaks running workflows fails here first.
 */
const DIR = join(__dirname, 'histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));
let workflowBundle: { code: string };

beforeAll(async () => {
  workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows') });
});

interface HistoryJson {
  events: { activityTaskScheduledEventAttributes?: { activityType: { name: string } } }[];
}
const load = (f: string): HistoryJson => JSON.parse(readFileSync(join(DIR, f), 'utf8')) as HistoryJson;

test('there are recorded histories', () => {
  expect(files.length).toBeGreaterThanOrEqual(3);
});

test.each(files)('%s replays without error', async (file) => {
  await expect(
    Worker.runReplayHistory({ workflowBundle }, historyFromJSON(load(file)), `replay-${file}`),
  ).resolves.toBeUndefined();
});

test('a corrupted history (an activity the code never schedules) fails to replay', async () => {
  const history = load('completed.json');
  const scheduled = history.events.find((e) => e.activityTaskScheduledEventAttributes);
  scheduled!.activityTaskScheduledEventAttributes!.activityType.name = 'chargeTwice';
  await expect(
    Worker.runReplayHistory({ workflowBundle }, historyFromJSON(history), 'corrupted'),
  ).rejects.toBeInstanceOf(DeterminismViolationError);
});
