import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { Patch, RETIRED_SHAPES } from '../../workflows/patches';
import { quietRuntime } from '../support/temporal';

quietRuntime();

/**
 * Histories recorded from real runs (`temporal workflow show -w <id> --output json`) must replay
 * against the current workflow code: a change that breaks running workflows fails here first.
 */
const DIR = join(__dirname, 'histories');
/** One folder per released workflow shape (v1, v2-…), each with its recorded histories. */
const shapes = readdirSync(DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();
const historiesOf = (shapes: string[]): string[] =>
  shapes.flatMap((shape) =>
    readdirSync(join(DIR, shape))
      .filter((f) => f.endsWith('.json'))
      .map((f) => join(shape, f)),
  );
const files = historiesOf(shapes);
/** Histories of the shapes the code still runs: every one must replay. */
const live = historiesOf(shapes.filter((s) => !(s in RETIRED_SHAPES)));
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
const load = (f: string): HistoryJson => JSON.parse(readFileSync(join(DIR, f), 'utf8')) as HistoryJson;

/** Patches in the order they were released: shape v2 introduced the first, v3 the second, … */
const PATCHES_IN_ORDER = [
  Patch.CancelSafeAdmitAndDeadline,
  Patch.SingleCompletionStep,
  Patch.AdmittedAtAccept,
  Patch.CancelWinsOverCallFailure,
  Patch.LeanHistory,
];
/** The folder of the shape a patch introduced: `v<N>-<patch id>` (N counts releases, not patches). */
const shapeOf = (patchId: string): string =>
  shapes.find((s) => /^v\d+-/.test(s) && s.endsWith(`-${patchId}`)) ?? `(no v<N>-${patchId} folder)`;

test('there are recorded histories of every released shape', () => {
  expect([...PATCHES_IN_ORDER].sort()).toEqual(Object.values(Patch).sort());
  expect(shapes).toEqual(expect.arrayContaining(['v1', ...PATCHES_IN_ORDER.map(shapeOf)]));
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

test.each(PATCHES_IN_ORDER)('histories of patch %s take the patched branch', (patchId) => {
  const recorded = files.filter((f) => f.startsWith(`${shapeOf(patchId)}/`));
  expect(recorded.length).toBeGreaterThanOrEqual(3);
  // A history records the patches its run reached, each once, in the order the code reaches them
  // (which need not be release order), none released after its shape; the first patch is taken on
  // every run (from admitted-at-accept on, a run whose input says so records that one first, and
  // no earlier one), a later one where the run reaches the changed code.
  const upTo = PATCHES_IN_ORDER.slice(0, PATCHES_IN_ORDER.indexOf(patchId) + 1);
  for (const f of recorded) {
    const patches = patchIds(load(f));
    expect({ f, patches }).toEqual({ f, patches: [...new Set(patches)] });
    expect({ f, patches }).toEqual({ f, patches: patches.filter((p) => upTo.includes(p as never)) });
    expect([PATCHES_IN_ORDER[0], Patch.AdmittedAtAccept, Patch.LeanHistory]).toContain(patches[0]);
    // From lean-history on, that is the only one.
    if (patches[0] === Patch.LeanHistory) expect({ f, patches }).toEqual({ f, patches: [Patch.LeanHistory] });
    // After admitted-at-accept, only patches released after it (where the run reaches their code).
    const after = PATCHES_IN_ORDER.slice(PATCHES_IN_ORDER.indexOf(Patch.AdmittedAtAccept) + 1);
    if (patches[0] === Patch.AdmittedAtAccept)
      expect({ f, patches }).toEqual({
        f,
        patches: [patches[0], ...patches.slice(1).filter((p) => after.includes(p as never))],
      });
  }
  expect(recorded.filter((f) => patchIds(load(f)).includes(patchId)).length).toBeGreaterThan(0);
});

/** Whether every `core_patch` marker of a history was recorded by `deprecatePatch()`. */
function allDeprecated(history: HistoryJson): boolean {
  return history.events.every((e) => {
    const m = e.markerRecordedEventAttributes;
    if (m?.markerName !== 'core_patch') return true;
    const payloads =
      (m.details?.['patch-data'] as { payloads?: { data?: string }[] } | undefined)?.payloads ?? [];
    return payloads.every(
      (p) =>
        (JSON.parse(Buffer.from(p.data ?? '', 'base64').toString('utf8')) as { deprecated?: boolean })
          .deprecated,
    );
  });
}

test('histories of the release that deprecated every patch record only deprecated markers', () => {
  const recorded = files.filter((f) => f.startsWith('v6-patches-deprecated/'));
  expect(recorded.length).toBeGreaterThanOrEqual(6);
  for (const f of recorded) {
    expect({ f, patches: patchIds(load(f)).length > 0 }).toEqual({ f, patches: true });
    expect({ f, deprecated: allDeprecated(load(f)) }).toEqual({ f, deprecated: true });
  }
});

test('v1 histories predate every patch', () => {
  for (const f of files.filter((x) => x.startsWith('v1/')))
    expect({ f, patches: patchIds(load(f)) }).toEqual({ f, patches: [] });
});

test.each(live)('%s replays without error', async (file) => {
  await expect(
    Worker.runReplayHistory({ workflowBundle }, historyFromJSON(load(file)), `replay-${file}`),
  ).resolves.toBeUndefined();
});

/**
 * A retired shape's histories are kept (never edited or removed) as the record of what the code no
 * longer runs: at least one of each must now fail to replay, or the retirement removed nothing.
 */
test.each(Object.keys(RETIRED_SHAPES))('retired shape %s no longer replays', async (shape) => {
  expect(shapes).toContain(shape);
  const outcomes = await Promise.all(
    historiesOf([shape]).map((f) =>
      Worker.runReplayHistory({ workflowBundle }, historyFromJSON(load(f)), `retired-${f}`).then(
        () => 'replays',
        (err: unknown) => (err instanceof DeterminismViolationError ? 'nondeterministic' : String(err)),
      ),
    ),
  );
  expect(outcomes).toContain('nondeterministic');
  expect(outcomes.filter((o) => o !== 'replays' && o !== 'nondeterministic')).toEqual([]);
});

test('a corrupted history (an activity the code never schedules) fails to replay', async () => {
  const history = load(live.find((f) => f.endsWith('/completed.json'))!);
  const scheduled = history.events.find((e) => e.activityTaskScheduledEventAttributes);
  scheduled!.activityTaskScheduledEventAttributes!.activityType.name = 'chargeTwice';
  await expect(
    Worker.runReplayHistory({ workflowBundle }, historyFromJSON(history), 'corrupted'),
  ).rejects.toBeInstanceOf(DeterminismViolationError);
});
