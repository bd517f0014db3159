import { freePorts } from '../../dev/stack/free-port';
import { dashboardQueries, startPrometheus } from '../support/prometheus';
import { FAULTS_AUTH } from '../support/model-server';
import { startPrivateStack, type PrivateStack } from '../support/private-stack';

/**
 * A real Prometheus (Debian's package) scrapes the real processes (API, both workers with their
 * Temporal SDK metrics) during a burst with quota refusals and model errors; every query of the
 * Grafana dashboard must return data, and the alert rules load and evaluate.
 */
let stack: PrivateStack;
let prom: Awaited<ReturnType<typeof startPrometheus>>;

beforeAll(async () => {
  const [orchSdk, gpuSdk] = await freePorts(2);
  stack = await startPrivateStack({
    env: {
      ORCHESTRATION_SDK_METRICS_PORT: String(orchSdk),
      GPU_SDK_METRICS_PORT: String(gpuSdk),
      QUOTA_AUDIT_INTERVAL_S: '2',
    },
  });
  const e = stack.env;
  prom = await startPrometheus([
    `127.0.0.1:${e.API_METRICS_PORT}`,
    `127.0.0.1:${e.ORCHESTRATION_METRICS_PORT}`,
    `127.0.0.1:${e.GPU_METRICS_PORT}`,
    `127.0.0.1:${orchSdk}`,
    `127.0.0.1:${gpuSdk}`,
  ]);
}, 120_000);

afterAll(async () => {
  await prom?.stop();
  await stack?.stop();
});

const call = (method: string, path: string, body?: unknown, key = stack.apiKey) =>
  fetch(`${stack.api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

test('every dashboard query returns data from a real Prometheus scraping the stack during a burst', async () => {
  const model = `http://127.0.0.1:${stack.env.MODEL_SERVICE_PORT}`;
  // Two failing attempts (retried), then a burst; the tenant's per-minute limit refuses its tail.
  await fetch(`${model}/_faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...FAULTS_AUTH },
    body: JSON.stringify({ script: [{ kind: 'status', status: 500, count: 2 }] }),
  });
  expect(
    (await call('PUT', '/admin/tenants/demo/limits', { requests_per_minute: 10 }, stack.adminToken)).status,
  ).toBe(200);
  const statuses = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      call('POST', '/v1/inference', { model: 'ref-small', prompt: `burst ${i}`, max_tokens: 20 }).then(
        (r) => r.status,
      ),
    ),
  );
  // The per-minute window is a calendar minute: a burst across a boundary may get two windows' worth.
  expect(statuses.filter((s) => s === 202).length).toBeGreaterThanOrEqual(10);
  expect(statuses.filter((s) => s === 202).length).toBeLessThanOrEqual(20);
  expect(statuses.filter((s) => s === 429).length).toBe(40 - statuses.filter((s) => s === 202).length);

  const queries = dashboardQueries();
  const empty = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const q of queries) if ((await prom.query(q.expr)).length === 0) out.push(`${q.title}: ${q.expr}`);
    return out;
  };
  let missing = await empty();
  for (let i = 0; i < 40 && missing.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    missing = await empty();
  }
  expect(missing).toEqual([]);

  const rules = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as {
    data: { groups: { rules: { name: string; health: string }[] }[] };
  };
  const loaded = rules.data.groups.flatMap((g) => g.rules);
  expect(loaded.length).toBe(7);
  expect(loaded.filter((r) => r.health !== 'ok')).toEqual([]);
});
