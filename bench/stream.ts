import { loadavg } from 'node:os';

/**
 * Streaming benchmark: time to first token (TTFT) and total latency of a streamed chat completion,
 * through the API (a durable request: quota, workflow, GPU worker, token relay) against the same call
 * straight to the model service, at idle and under load. Runs against a running stack (`npm start`).
 *
 *   npm run bench:stream     (PROBES=40 per mode, LOAD=8 concurrent background streams)
 *
 * Eager workflow start before and after in one run: with API_EAGER_OFF (the URL of a second API with
 * API_EAGER_START=false, as `STACK_API_EAGER_OFF_PORT=8180 npm start` runs one), each probe goes to
 * the model direct, then that API (eager off), then API (eager on); the background streams alternate
 * between the two APIs, so both modes see the same load.
 *
 * Env: API (http://127.0.0.1:$API_PORT, 8080), API_EAGER_OFF (none), MODEL_URL
 * (http://127.0.0.1:$MODEL_SERVICE_PORT, 8090), API_KEY (dev-demo-key), MODEL (ref-small),
 * MAX_TOKENS (32), PROBES, LOAD.
 */
const API = process.env.API ?? `http://127.0.0.1:${process.env.API_PORT ?? 8080}`;
const API_EAGER_OFF = process.env.API_EAGER_OFF;
const MODEL_URL = process.env.MODEL_URL ?? `http://127.0.0.1:${process.env.MODEL_SERVICE_PORT ?? 8090}`;
const API_KEY = process.env.API_KEY ?? 'dev-demo-key';
const MODEL = process.env.MODEL ?? 'ref-small';
const MAX_TOKENS = Number(process.env.MAX_TOKENS ?? 32);
const PROBES = Number(process.env.PROBES ?? 40);
const LOAD = Number(process.env.LOAD ?? 8);
/** The APIs compared: eager start off (when given) and on. */
const APIS: { label: string; url: string }[] = [
  ...(API_EAGER_OFF ? [{ label: 'eager off', url: API_EAGER_OFF }] : []),
  { label: API_EAGER_OFF ? 'eager on' : 'api', url: API },
];
const loadAverage = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

interface Timing {
  ttft: number;
  total: number;
}

/** One streamed chat completion; times the first content chunk and the end of the stream. */
async function streamOnce(base: string, key: string | undefined, prompt: string): Promise<Timing> {
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(key ? { Authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({
      model: MODEL,
      messages: [{ role: 'user', content: prompt }],
      max_tokens: MAX_TOKENS,
      stream: true,
    }),
  });
  if (!res.ok || !res.body) throw new Error(`${base}: HTTP ${res.status} ${await res.text()}`);
  let ttft = NaN;
  let buf = '';
  const decoder = new TextDecoder();
  for await (const bytes of res.body) {
    buf += decoder.decode(bytes as Uint8Array, { stream: true });
    if (Number.isNaN(ttft) && /"content":"[^"]/.test(buf)) ttft = performance.now() - t0;
    if (buf.length > 65536) buf = buf.slice(-1024);
  }
  if (!buf.includes('[DONE]')) throw new Error(`${base}: stream ended without [DONE]`);
  return { ttft, total: performance.now() - t0 };
}

const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

async function probe(label: string): Promise<Record<string, string | number>[]> {
  const direct: Timing[] = [];
  const api: Timing[][] = APIS.map(() => []);
  for (let i = 0; i < PROBES; i++) {
    direct.push(await streamOnce(MODEL_URL, undefined, `bench ${label} direct ${i}`));
    for (const [k, a] of APIS.entries())
      api[k]!.push(await streamOnce(a.url, API_KEY, `bench ${label} api ${i}`));
  }
  const row = (xs: number[]) => ({ p50: pct(xs, 50), p99: pct(xs, 99) });
  const summary = (ts: Timing[]) => ({
    ttft: row(ts.map((t) => t.ttft)),
    total: row(ts.map((t) => t.total)),
  });
  const d = summary(direct);
  return APIS.map(({ label: apiLabel }, k) => {
    const a = summary(api[k]!);
    return {
      mode: label,
      api: apiLabel,
      'direct TTFT p50': d.ttft.p50.toFixed(1),
      'API TTFT p50': a.ttft.p50.toFixed(1),
      'overhead p50': (a.ttft.p50 - d.ttft.p50).toFixed(1),
      'direct TTFT p99': d.ttft.p99.toFixed(1),
      'API TTFT p99': a.ttft.p99.toFixed(1),
      'overhead p99': (a.ttft.p99 - d.ttft.p99).toFixed(1),
      'direct total p50': d.total.p50.toFixed(1),
      'API total p50': a.total.p50.toFixed(1),
      'API total p99': a.total.p99.toFixed(1),
    };
  });
}

async function main(): Promise<void> {
  console.log(
    `stream benchmark: ${APIS.map((a) => `${a.url} (${a.label})`).join(', ')} vs ${MODEL_URL}, model ${MODEL}, max_tokens ${MAX_TOKENS}, ${PROBES} probes per mode, load ${LOAD} streams (ms); load average ${loadAverage()}`,
  );
  for (const a of APIS) await streamOnce(a.url, API_KEY, 'warm up');
  const rows = await probe('idle');
  let stop = false;
  let background = 0;
  let errors = 0;
  // Alternating between the APIs compared: every mode is probed under the same load.
  const load = Array.from({ length: LOAD }, async (_, w) => {
    while (!stop) {
      await streamOnce(APIS[w % APIS.length]!.url, API_KEY, `load ${w}`).then(
        () => background++,
        () => errors++,
      );
    }
  });
  rows.push(...(await probe(`load ${LOAD}`)));
  stop = true;
  await Promise.all(load);
  console.table(rows);
  console.log(
    `background streams completed: ${background}, errors: ${errors}; load average ${loadAverage()}`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
