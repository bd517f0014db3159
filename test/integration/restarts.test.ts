import { startPrivateStack, type PrivateStack } from '../support/private-stack';
import { ReadyzWatch, SubmitBurst, waitAllReady } from '../support/restart-probes';

/**
 * Every process survives PostgreSQL, Redis and Temporal restarting: none exits, /readyz is 503 while
 * the dependency is down and 200 after, submits refused meanwhile are 503 with Retry-After, and every
 * accepted request completes. The dependencies are PRIVATE instances on free ports (the shared
 * PostgreSQL and Redis are never touched); API and workers are real child processes.
 */
let stack: PrivateStack;
const figures: Record<string, unknown>[] = [];

beforeAll(async () => {
  stack = await startPrivateStack();
  const res = await fetch(`${stack.api.url}/admin/tenants/demo/limits`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.adminToken}` },
    body: JSON.stringify({ requests_per_minute: 100_000, max_in_flight: 10_000 }),
  });
  expect(res.status).toBe(200);
}, 120_000);

afterAll(async () => {
  console.log(`restart figures:\n${figures.map((f) => JSON.stringify(f)).join('\n')}`);
  await stack?.stop();
});

const DOWN_MS = 1500;

describe.each(['postgres', 'redis', 'temporal'] as const)('%s restarts mid-burst', (dependency) => {
  test('no process exits, /readyz is 503 while it is down, every accepted request completes', async () => {
    const service = stack.services[dependency];
    // The GPU worker does not use Redis, so a Redis outage leaves it ready.
    const affected = stack.ready.filter((c) => dependency !== 'redis' || c.name !== 'gpu-worker');
    for (const c of stack.children) c.logs.length = 0;
    const watch = new ReadyzWatch(stack.ready);
    const burst = new SubmitBurst(stack.api.url, stack.apiKey);
    burst.start();
    await burst.waitAccepted(3);

    const downAt = Date.now();
    await service.stop();
    await watch.waitStatus(affected, 503, 15_000);
    const notReadyAfterMs = Date.now() - downAt;
    await new Promise((r) => setTimeout(r, DOWN_MS));
    await service.start();
    const upAt = Date.now();
    await waitAllReady(stack.ready, 60_000);
    const recoveryMs = Date.now() - upAt;
    await burst.waitAcceptedSince(upAt, 3, 30_000);
    await burst.stop();
    await watch.stop();

    for (const c of stack.children)
      expect({ name: c.name, exitCode: c.proc.exitCode }).toEqual({ name: c.name, exitCode: null });
    for (const c of affected)
      expect({ name: c.name, saw503: watch.saw(c.name, 503) }).toEqual({ name: c.name, saw503: true });
    // Refused submits are 503 with Retry-After; nothing else but 202.
    expect(burst.unexpected).toEqual([]);
    for (const r of burst.refused) expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);

    const finished = await burst.waitAllFinished(60_000);
    expect(finished.filter((s) => s !== 'completed')).toEqual([]);
    // One log line per transition and process: down, then up.
    for (const c of affected) {
      const lines = c.logs.filter(
        (l) => l.dependency === dependency && /^dependency (down|up)/.test(l.msg ?? ''),
      );
      expect(lines.map((l) => l.msg)).toEqual([
        `dependency down: ${dependency}`,
        `dependency up: ${dependency}`,
      ]);
    }
    figures.push({
      dependency,
      accepted: burst.accepted.length,
      refused503: burst.refused.length,
      allReadyzNotReadyWithinMs: notReadyAfterMs,
      downMs: upAt - downAt,
      readyzNotReadyMs: Object.fromEntries(stack.ready.map((c) => [c.name, watch.notReadyMs(c.name)])),
      recoveryMs,
    });
  });
});
