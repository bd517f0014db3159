import { diagnose } from '../../src/inference/queue-insight';

const stats = (pollers: number, dispatchRate = 0) => ({
  backlog: 0,
  backlogAgeS: 0,
  pollers,
  addRate: 0,
  dispatchRate,
});
const queued = { status: 'queued' as const, attempts: 0, lastError: null };

test('no worker polls the queue: scaled to zero or down', () => {
  expect(diagnose(queued, { ahead: 3, own: 0, stats: stats(0), slots: 8 }).reason).toBe('no_worker');
});

test('the model service fails: last error and attempt', () => {
  const d = diagnose(
    { status: 'running', attempts: 2, lastError: 'HTTP 503: overloaded' },
    { ahead: 0, own: 0, stats: stats(1), slots: 8 },
  );
  expect(d).toMatchObject({ reason: 'model_failing', last_error: 'HTTP 503: overloaded', attempt: 2 });
});

test("the tenant's own requests are most of the line", () => {
  expect(diagnose(queued, { ahead: 20, own: 15, stats: stats(1, 5), slots: 8 }).reason).toBe(
    'tenant_backlog',
  );
});

test('more waiting than the workers have slots', () => {
  expect(diagnose(queued, { ahead: 40, own: 2, stats: stats(2, 5), slots: 8 }).reason).toBe('gpus_busy');
});

test('otherwise it moves', () => {
  expect(diagnose(queued, { ahead: 2, own: 0, stats: stats(2, 5), slots: 8 }).reason).toBe('moving');
});

test('a worker took the call and went silent: worker_unresponsive, before any other cause', () => {
  const call = { state: 'started' as const, attempt: 2, startedAgoS: 7.5, worker: '123@gpu-0' };
  const d = diagnose(queued, { ahead: 0, own: 0, stats: stats(1, 5), slots: 8, call });
  expect(d).toMatchObject({ reason: 'worker_unresponsive', attempt: 2, worker: '123@gpu-0' });
  expect(d.message).toContain('7.5 s ago');
  // Just taken (a healthy worker marks the request running within milliseconds): not yet.
  const fresh = { ...call, startedAgoS: 1 };
  expect(diagnose(queued, { ahead: 0, own: 0, stats: stats(1, 5), slots: 8, call: fresh }).reason).toBe(
    'moving',
  );
  // Still on the queue: the other causes apply.
  const waiting = { state: 'scheduled' as const, attempt: 1 };
  expect(diagnose(queued, { ahead: 0, own: 0, stats: stats(0), slots: 8, call: waiting }).reason).toBe(
    'no_worker',
  );
});
