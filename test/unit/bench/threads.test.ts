import { splitPerRequest, threadCpu, threadSplit, type ThreadCpu } from '../../../bench/harness/threads';

const snapshot = (threads: [number, string, number][]): ThreadCpu =>
  new Map(threads.map(([tid, name, ms]) => [tid, { name, ms }]));

test('a worker process splits into main thread, workflow thread, V8 helpers, Rust core and the rest', () => {
  const before = snapshot([
    [100, 'node', 1000],
    [101, 'node', 50],
    [102, 'node', 40],
    [103, 'node', 900],
    [104, 'tokio-runtime-w', 300],
    [105, 'tokio-runtime-w', 200],
    [106, 'workflow-proces', 10],
  ]);
  const after = snapshot([
    [100, 'node', 1400], // main +400
    [101, 'node', 80], // helper +30
    [102, 'node', 60], // helper +20
    [103, 'node', 1400], // busiest other: the workflow thread +500
    [104, 'tokio-runtime-w', 400], // +100
    [105, 'tokio-runtime-w', 260], // +60
    [106, 'workflow-proces', 15], // +5
    [107, 'node', 7], // started meanwhile: counted from zero, a helper
  ]);
  const split = threadSplit(100, before, after);
  expect(split).toEqual({ main: 400, workflow_thread: 500, v8_helpers: 57, rust_core: 160, other: 5 });
  expect(splitPerRequest([split, split], 100)).toEqual({
    main: 8,
    workflow_thread: 10,
    v8_helpers: 1.14,
    rust_core: 3.2,
    other: 0.1,
    total: 22.44,
  });
});

test("this process's threads are read from /proc with their names; a gone process has none", () => {
  const mine = threadCpu(process.pid);
  expect(mine.get(process.pid)?.ms).toBeGreaterThanOrEqual(0);
  expect([...mine.values()].every((t) => t.name.length > 0)).toBe(true);
  expect(threadCpu(2 ** 22 + 1).size).toBe(0);
});
