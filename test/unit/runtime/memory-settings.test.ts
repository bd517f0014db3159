import { MEMORY_SETTINGS, withMemorySettings } from '../../../src/runtime/memory-settings';

test('adds the V8 flag and the arena cap to an environment that has neither', () => {
  expect(withMemorySettings({ A: 'b' })).toEqual({
    A: 'b',
    NODE_OPTIONS: MEMORY_SETTINGS.nodeOptions,
    MALLOC_ARENA_MAX: MEMORY_SETTINGS.mallocArenaMax,
  });
});

test("keeps the operator's own NODE_OPTIONS and adds to them; an explicit young generation or arena cap wins", () => {
  expect(withMemorySettings({ NODE_OPTIONS: '--enable-source-maps' }).NODE_OPTIONS).toBe(
    `--enable-source-maps ${MEMORY_SETTINGS.nodeOptions}`,
  );
  expect(
    withMemorySettings({ NODE_OPTIONS: '--max-semi-space-size=16', MALLOC_ARENA_MAX: '8' }),
  ).toMatchObject({ NODE_OPTIONS: '--max-semi-space-size=16', MALLOC_ARENA_MAX: '8' });
});
