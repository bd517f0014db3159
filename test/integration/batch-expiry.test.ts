import { randomBytes } from 'node:crypto';
import OpenAI, { toFile } from 'openai';
import { startStack, type Stack } from '../support/stack';

/**
 * A batch's completion window on the real stack. The API accepts only `completion_window: "24h"`;
 * BATCH_COMPLETION_WINDOW_S sets what it lasts (here 60 s, swept every second; the test moves the
 * batch's `expires_at` to now once a line runs, so the expiry finds one running whatever the host's
 * speed), so a batch of slow lines ends `expired`: the lines not done are reported `batch_expired`
 * and charged nothing, those it stopped running included. With
 * PAYLOAD_KEYS set, every file (upload, output, errors) is sealed at rest.
 */
let s: Stack;
let client: OpenAI;
beforeAll(async () => {
  s = await startStack({
    // 4 ms per token: a line runs for about 6 s, so the expiry's cancel reaches one still running
    // however slow the host.
    modelService: { decodeMsPerToken: 4 },
    env: {
      BATCH_COMPLETION_WINDOW_S: '60',
      BATCH_EXPIRY_SWEEP_S: '1',
      BATCH_CONCURRENCY: '2',
      PAYLOAD_KEYS: `rest-key:${randomBytes(32).toString('base64')}`,
    },
  });
  await s.setLimits({ tokens_per_day: 100_000_000, tokens_per_month: 1_000_000_000, max_in_flight: 100 });
  client = new OpenAI({ baseURL: `${s.apiUrl}/v1`, apiKey: s.apiKey, maxRetries: 0 });
});
afterAll(async () => {
  await s?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function lines(fileId: string): Promise<Record<string, any>[]> {
  const text = await (await client.files.content(fileId)).text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>);
}

test('lines not done within the window end batch_expired, charged nothing; the batch ends expired', async () => {
  const marker = `okapi-${randomBytes(6).toString('hex')}`;
  // 20 lines of 1,500 tokens at 4 ms each, 2 at a time: a minute of work; expired once one runs.
  const input = Array.from({ length: 20 }, (_, i) => ({
    custom_id: `slow-${i}`,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'ref-small', messages: [{ role: 'user', content: `${marker} ${i}` }], max_tokens: 1500 },
  }));
  const file = await client.files.create({
    file: await toFile(Buffer.from(input.map((l) => JSON.stringify(l)).join('\n')), 'slow.jsonl'),
    purpose: 'batch',
  });
  const created = await client.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
  });
  expect(created.completion_window).toBe('24h');
  expect(created.expires_at! - created.created_at).toBe(60);

  // Once a line runs, the window "passes": the sweep (every second) expires the batch.
  const runningBy = Date.now() + 60_000;
  for (;;) {
    const { rows: running } = await s.pool.query(
      `SELECT 1 FROM batch_items i JOIN requests r ON r.id = i.request_id
       WHERE i.batch_id = $1 AND r.status = 'running'`,
      [created.id],
    );
    if (running.length) break;
    if (Date.now() > runningBy) throw new Error('no line of the batch ran within 60 s');
    await sleep(50);
  }
  // A second into its answer (about 250 tokens), so the stopped line has produced output.
  await sleep(1000);
  await s.pool.query(`UPDATE batches SET expires_at = now() WHERE id = $1`, [created.id]);

  let b = created;
  const deadline = Date.now() + 90_000;
  while (!['expired', 'completed', 'failed', 'cancelled'].includes(b.status) && Date.now() < deadline) {
    await sleep(250);
    b = await client.batches.retrieve(created.id);
  }
  expect(b.status).toBe('expired');
  expect(b.expired_at).toBeGreaterThanOrEqual(created.created_at);
  expect(b.completed_at).toBeNull();

  const errors = await lines(b.error_file_id!);
  const output = b.output_file_id ? await lines(b.output_file_id) : [];
  expect(output.length + errors.length).toBe(20);
  const expired = errors.filter((l) => l.error?.code === 'batch_expired');
  expect(expired.length).toBeGreaterThanOrEqual(10);
  expect(expired[0]!.error.message).toMatch(/completion window/);
  expect(b.request_counts).toEqual({ total: 20, completed: output.length, failed: errors.length });

  // A line that never started has no request and no ledger row: charged nothing.
  const { rows } = await s.pool.query<{
    custom_id: string;
    request_id: string;
    charged: boolean;
    started: boolean;
  }>(
    `SELECT i.custom_id, i.request_id, l.request_id IS NOT NULL AS charged, r.id IS NOT NULL AS started
     FROM batch_items i LEFT JOIN requests r ON r.id = i.request_id
     LEFT JOIN usage_ledger l ON l.request_id = i.request_id WHERE i.batch_id = $1`,
    [b.id],
  );
  const neverStarted = rows.filter((r) => !r.started);
  expect(neverStarted.length).toBeGreaterThanOrEqual(10);
  expect(neverStarted.every((r) => !r.charged)).toBe(true);
  for (const r of neverStarted) expect(expired.map((l) => l.custom_id)).toContain(r.custom_id);
  // A line the expiry stopped while it ran is charged nothing either, whatever it had produced.
  const stoppedRunning = rows.filter((r) => r.started && expired.some((l) => l.custom_id === r.custom_id));
  expect(stoppedRunning.length).toBeGreaterThan(0);
  expect(stoppedRunning.filter((r) => r.charged)).toEqual([]);
  const { rows: produced } = await s.pool.query<{ n: number }>(
    `SELECT max(completion_tokens)::int AS n FROM requests WHERE id = ANY($1::text[])`,
    [stoppedRunning.map((r) => r.request_id)],
  );
  expect(produced[0]!.n).toBeGreaterThan(0);
  // Nothing stays reserved.
  await sleep(500);
  const q = await s.call('GET', '/v1/quota');
  expect(q.body.limits.max_in_flight.reserved).toBe(0);
  expect(await s.metrics.registry.metrics()).toMatch(/inference_batch_expiries_total\{[^}]*\} [1-9]/);

  // Sealed at rest: neither the prompts of the upload nor anything of the result files is in clear.
  const raw = await s.pool.query<{ raw: string }>(
    `SELECT c::text AS raw FROM file_chunks c WHERE file_id = ANY($1::text[])`,
    [[file.id, b.error_file_id, b.output_file_id].filter(Boolean)],
  );
  expect(raw.rows.length).toBeGreaterThanOrEqual(2);
  for (const r of raw.rows) {
    expect(r.raw).not.toContain(marker);
    expect(r.raw).not.toContain('slow-');
  }
  const { rows: clear } = await s.pool.query(
    `SELECT 1 FROM file_chunks WHERE file_id = ANY($1::text[]) AND data IS NOT NULL`,
    [[file.id, b.error_file_id]],
  );
  expect(clear).toHaveLength(0);
  // …and read back whole through the API.
  const back = await (await client.files.content(file.id)).text();
  expect(back).toContain(marker);
}, 150_000);
