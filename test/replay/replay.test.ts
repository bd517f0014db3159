import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { Patch } from '../../workflows/patches';
import { quietRuntime } from '../support/temporal';

quietRuntime();

/**
 * Histories recorded from real runs (`temporal workflow show -w <id> --output json`) must replay
 * against the current workflow code: a change that breaks running workflows fails here first.
 */
const DIR = join(__dirname, 'histories');
/**
 * The first released shape's histories lie directly in histories/ (they predate versioning and stay
 * where they were recorded); every later shape and every other workflow type has a folder beside them.
 */
const FIRST_SHAPE = 'v1';
const entries = readdirSync(DIR, { withFileTypes: true });
const shapes = [
  FIRST_SHAPE,
  ...entries
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort(),
];
const jsonIn = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.json'));
const files = [
  ...jsonIn(DIR).map((f) => `${FIRST_SHAPE}/${f}`),
  ...shapes.slice(1).flatMap((shape) => jsonIn(join(DIR, shape)).map((f) => `${shape}/${f}`)),
];
/** Where a history listed as `<shape>/<file>` lies. */
const pathOf = (f: string): string =>
  f.startsWith(`${FIRST_SHAPE}/`) ? join(DIR, f.slice(FIRST_SHAPE.length + 1)) : join(DIR, f);
let workflowBundle: { code: string };

beforeAll(async () => {
  workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows') });
});

interface HistoryJson {
  events: {
    activityTaskScheduledEventAttributes?: { activityType: { name: string } };
    markerRecordedEventAttributes?: { markerName?: string; details?: Record<string, unknown> };
  }[];
}
const load = (f: string): HistoryJson => JSON.parse(readFileSync(pathOf(f), 'utf8')) as HistoryJson;

test('there are recorded histories of every released shape', () => {
  expect(shapes).toEqual(expect.arrayContaining(['v1', `v2-${Patch.CancelSafeAdmitAndDeadline}`]));
  for (const shape of shapes)
    expect(files.filter((f) => f.startsWith(`${shape}/`)).length).toBeGreaterThan(0);
});

/** The patch ids a history's `core_patch` markers record (their payload is `{"id": …}` in JSON). */
function patchIds(history: HistoryJson): string[] {
  return history.events.flatMap((e) => {
    const m = e.markerRecordedEventAttributes;
    if (m?.markerName !== 'core_patch') return [];
    const payloads =
      (m.details?.['patch-data'] as { payloads?: { data?: string }[] } | undefined)?.payloads ?? [];
    return payloads.map(
      (p) => (JSON.parse(Buffer.from(p.data ?? '', 'base64').toString('utf8')) as { id: string }).id,
    );
  });
}

test.each(Object.values(Patch))('histories of patch %s take the patched branch', (patchId) => {
  const recorded = files.filter((f) => f.startsWith(`v2-${patchId}/`));
  expect(recorded.length).toBeGreaterThanOrEqual(3);
  for (const f of recorded) expect({ f, patches: patchIds(load(f)) }).toEqual({ f, patches: [patchId] });
});

test('v1 histories predate every patch', () => {
  for (const f of files.filter((x) => x.startsWith('v1/')))
    expect({ f, patches: patchIds(load(f)) }).toEqual({ f, patches: [] });
});

test.each(files)('%s replays without error', async (file) => {
  await expect(
    Worker.runReplayHistory({ workflowBundle }, historyFromJSON(load(file)), `replay-${file}`),
  ).resolves.toBeUndefined();
});

test('a corrupted history (an activity the code never schedules) fails to replay', async () => {
  const history = load('v1/completed.json');
  const scheduled = history.events.find((e) => e.activityTaskScheduledEventAttributes);
  scheduled!.activityTaskScheduledEventAttributes!.activityType.name = 'chargeTwice';
  await expect(
    Worker.runReplayHistory({ workflowBundle }, historyFromJSON(history), 'corrupted'),
  ).rejects.toBeInstanceOf(DeterminismViolationError);
});
