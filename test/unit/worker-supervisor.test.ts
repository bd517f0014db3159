import type { NativeConnection, Worker } from '@temporalio/worker';
import { WorkerSupervisor } from '../../src/runtime/worker-supervisor';

/** A stand-in for a Temporal worker: run() settles when shutdown() is called or `fail` is. */
function fakeWorker() {
  let state = 'INITIALIZED';
  let settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
  const w = {
    getState: () => state,
    run: () => {
      state = 'RUNNING';
      return new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    },
    shutdown: () => {
      state = 'STOPPED';
      settle?.resolve();
    },
    fail: (err: Error) => {
      state = 'FAILED';
      settle?.reject(err);
    },
  };
  return w;
}

const logger = { error: jest.fn(), warn: jest.fn(), info: jest.fn() } as never;
const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
};

test('re-creates connection and workers with backoff when creation fails or run() rejects; stop ends it', async () => {
  const workers: ReturnType<typeof fakeWorker>[] = [];
  const closed: number[] = [];
  let connects = 0;
  const reports: [string, boolean][] = [];
  const sup = new WorkerSupervisor({
    logger,
    initialBackoffMs: 1,
    dependencies: { report: (name, up) => void reports.push([name, up]) },
    connect: async () => {
      const n = ++connects;
      if (n === 1) throw new Error('connect ECONNREFUSED');
      return { close: async () => void closed.push(n) } as unknown as NativeConnection;
    },
    createWorkers: async () => {
      const w = fakeWorker();
      workers.push(w);
      return [w as unknown as Worker];
    },
  });
  const run = sup.run();
  await until(() => workers.length === 1 && workers[0]!.getState() === 'RUNNING');
  workers[0]!.fail(new Error('poll failed: transport error'));
  await until(() => workers.length === 2 && workers[1]!.getState() === 'RUNNING');
  expect(closed).toEqual([2]);
  await sup.stop();
  await run;
  expect(workers[1]!.getState()).toBe('STOPPED');
  expect(closed).toEqual([2, 3]);
  expect(reports).toEqual([
    ['temporal', false],
    ['temporal', true],
    ['temporal', false],
    ['temporal', true],
  ]);
});

test('ping rejects while no connection is open', async () => {
  const sup = new WorkerSupervisor({
    logger,
    connect: () => new Promise(() => undefined),
    createWorkers: async () => [],
  });
  await expect(sup.ping()).rejects.toThrow('not connected');
});

test('started() waits for the first workers past a failed connect, and does not hang a stop before them', async () => {
  let connects = 0;
  const w = fakeWorker();
  const sup = new WorkerSupervisor({
    logger,
    initialBackoffMs: 1,
    connect: async () => {
      if (++connects === 1) throw new Error('connect ECONNREFUSED');
      return { close: async () => undefined } as unknown as NativeConnection;
    },
    createWorkers: async () => [w as unknown as Worker],
  });
  let started = false;
  void sup.started().then(() => (started = true));
  await new Promise((r) => setTimeout(r, 20));
  expect(started).toBe(false);
  const run = sup.run();
  await sup.started();
  expect(connects).toBe(2);
  await until(() => w.getState() === 'RUNNING');
  await sup.stop();
  await run;

  const never = new WorkerSupervisor({
    logger,
    connect: () => new Promise(() => undefined),
    createWorkers: async () => [],
  });
  void never.run();
  const stopped = never.started();
  void never.stop();
  await expect(stopped).resolves.toBeUndefined();
});

test('a shared connection (ownsConnection: false) is reused across restarts and never closed', async () => {
  const workers: ReturnType<typeof fakeWorker>[] = [];
  let closes = 0;
  const shared = { close: async () => void closes++ } as unknown as NativeConnection;
  const seen: NativeConnection[] = [];
  const sup = new WorkerSupervisor({
    logger,
    initialBackoffMs: 1,
    ownsConnection: false,
    connect: () => Promise.resolve(shared),
    createWorkers: async (conn) => {
      seen.push(conn);
      const w = fakeWorker();
      workers.push(w);
      return [w as unknown as Worker];
    },
  });
  await expect(sup.running()).rejects.toThrow('not running');
  const run = sup.run();
  await until(() => workers.length === 1 && workers[0]!.getState() === 'RUNNING');
  await expect(sup.running()).resolves.toBeUndefined();
  workers[0]!.fail(new Error('poll failed'));
  await until(() => workers.length === 2 && workers[1]!.getState() === 'RUNNING');
  await sup.stop();
  await run;
  await expect(sup.running()).rejects.toThrow('not running');
  expect(seen).toEqual([shared, shared]);
  expect(closes).toBe(0);
});
