import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startStack, type Stack } from '../support/stack';

/**
 * Prompts and outputs at rest outside Temporal history, on the real stack with PAYLOAD_KEYS set: an
 * idempotent submit, a batch and a stream run end to end, then the PostgreSQL rows and the Redis
 * stream entries are read raw (what a database dump or a Redis replica shows) and hold neither the
 * prompt nor the output, while the API still answers with them.
 */
let s: Stack;
beforeAll(async () => {
  s = await startStack({
    env: {
      PAYLOAD_KEYS: `rest-key:${randomBytes(32).toString('base64')}`,
      // The test's loopback webhook receiver, and only it.
      WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
    },
  });
});
afterAll(async () => {
  await s?.stop();
});

const secret = (): string => `okapi-${randomBytes(6).toString('hex')}`;

/** Every column of the rows `sql` selects, as PostgreSQL renders them (jsonb and text alike). */
async function rawRows(sql: string, values: unknown[]): Promise<string> {
  const { rows } = await s.pool.query<{ raw: string }>(
    `SELECT row_to_json(t)::text AS raw FROM (${sql}) t`,
    values,
  );
  expect(rows.length).toBeGreaterThan(0);
  return rows.map((r) => r.raw).join('\n');
}

/** Whether `raw` holds `output` or any three consecutive words of it. */
function leaks(raw: string, output: string): boolean {
  if (raw.includes(output)) return true;
  const words = output.split(/\s+/).filter(Boolean);
  for (let i = 0; i + 3 <= words.length; i++) if (raw.includes(words.slice(i, i + 3).join(' '))) return true;
  return false;
}

async function postIdempotent(body: unknown, key: string) {
  const res = await fetch(`${s.apiUrl}/v1/inference`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${s.apiKey}`,
      'idempotency-key': key,
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

test('an idempotent submit: key row and request row hold no prompt or output; the replay answers', async () => {
  const word = secret();
  const body = { model: 'ref-small', prompt: `Keep ${word} private [[stop:24]]`, max_tokens: 64 };
  const key = `rest-${randomBytes(6).toString('hex')}`;
  const first = await postIdempotent(body, key);
  expect(first.status).toBe(202);
  const done = await s.waitFinished(first.body.id as string);
  expect(done.status).toBe('completed');
  const output = done.output as string;
  expect(output.length).toBeGreaterThan(20);

  const keyRow = await rawRows('SELECT * FROM idempotency_keys WHERE tenant_id = $1 AND idem_key = $2', [
    s.tenantId,
    key,
  ]);
  expect(keyRow).not.toContain(word);
  expect(keyRow).toContain('encryption-key-id');
  const requestRow = await rawRows('SELECT * FROM requests WHERE id = $1', [first.body.id]);
  expect(requestRow).not.toContain(word);
  expect(leaks(requestRow, output)).toBe(false);
  const { rows } = await s.pool.query('SELECT output, output_sealed FROM requests WHERE id = $1', [
    first.body.id,
  ]);
  expect(rows[0]).toMatchObject({ output: null, output_sealed: { metadata: expect.any(Object) } });

  const replay = await postIdempotent(body, key);
  expect(replay.status).toBe(202);
  expect(replay.headers.get('idempotent-replayed')).toBe('true');
  expect(replay.body.id).toBe(first.body.id);
  // The same body under the key binds to the same request, whose output the API still reads.
  expect((await s.call('GET', `/v1/inference/${String(first.body.id)}`)).body.output).toBe(output);
});

test('a batch: item rows and their request rows hold no prompt or output; results carry the outputs', async () => {
  const words = [secret(), secret(), secret()];
  const items = words.map((w, i) => ({
    custom_id: `c-${i}`,
    body: { model: 'ref-small', prompt: `item ${w} [[stop:16]]`, max_tokens: 32 },
  }));
  const created = await s.call('POST', '/v1/batches', items);
  expect(created.status).toBe(202);
  const id = created.body.id as string;
  const deadline = Date.now() + 60_000;
  while ((await s.call('GET', `/v1/batches/${id}`)).body.status !== 'completed') {
    if (Date.now() > deadline) throw new Error(`batch ${id} did not complete`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const res = await fetch(`${s.apiUrl}/v1/batches/${id}/results`, {
    headers: { authorization: `Bearer ${s.apiKey}` },
  });
  const lines = (await res.text())
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { custom_id: string; status: string; output: string });
  expect(lines.map((l) => [l.custom_id, l.status])).toEqual(items.map((x) => [x.custom_id, 'completed']));
  for (const l of lines) expect(l.output.length).toBeGreaterThan(10);

  const itemRows = await rawRows('SELECT * FROM batch_items WHERE batch_id = $1', [id]);
  const requestRows = await rawRows(
    'SELECT r.* FROM requests r JOIN batch_items i ON i.request_id = r.id WHERE i.batch_id = $1',
    [id],
  );
  for (const w of words) {
    expect(itemRows).not.toContain(w);
    expect(requestRows).not.toContain(w);
  }
  for (const l of lines) expect(leaks(requestRows, l.output)).toBe(false);
});

test('a stream: Redis entries hold no output; the SSE stream carries it', async () => {
  const id = await s.submit(`stream ${secret()} [[stop:40]]`, 64);
  const res = await fetch(`${s.apiUrl}/v1/inference/${id}/stream`, {
    headers: { authorization: `Bearer ${s.apiKey}` },
  });
  expect(res.status).toBe(200);
  const sse = await res.text();
  const streamed = sse
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => JSON.parse(l.slice(6)) as { text?: string })
    .map((d) => d.text ?? '')
    .join('');
  const done = await s.waitFinished(id);
  expect(streamed).toBe(done.output);
  expect(streamed.length).toBeGreaterThan(20);

  const entries = await s.redis.xrange(`${s.cfg.REDIS_KEY_PREFIX}:stream:{${id}}`, '-', '+');
  const raw = JSON.stringify(entries);
  expect(entries.some(([, fields]) => fields[0] === 's')).toBe(true);
  expect(leaks(raw, streamed)).toBe(false);
  // Every piece of text, however short, is sealed.
  for (const [, fields] of entries) expect(fields[1]).not.toMatch(/"type":"text"/);
});

test('an output written in clear by the previous version is still served', async () => {
  const id = await s.submit(`legacy ${secret()} [[stop:8]]`, 16);
  await s.waitFinished(id);
  await s.pool.query(`UPDATE requests SET output = 'written in clear', output_sealed = NULL WHERE id = $1`, [
    id,
  ]);
  expect((await s.call('GET', `/v1/inference/${id}`)).body.output).toBe('written in clear');
});

test('a webhook event: its delivery row is sealed; the receiver gets the event in clear', async () => {
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const submitted = await s.call('POST', '/v1/inference', {
      model: 'ref-small',
      prompt: `hook ${secret()} [[stop:4]]`,
      max_tokens: 8,
      webhook_url: url,
      webhook_events: ['completed'],
    });
    expect(submitted.status).toBe(202);
    const id = submitted.body.id as string;
    await s.waitFinished(id);
    const deadline = Date.now() + 30_000;
    while (!bodies.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(JSON.parse(bodies[0]!)).toMatchObject({
      type: 'inference.completed',
      data: { id, status: 'completed' },
    });
    const row = await rawRows('SELECT payload FROM webhook_deliveries WHERE request_id = $1', [id]);
    expect(row).toContain('encryption-key-id');
    expect(row).not.toContain('inference.completed');
  } finally {
    await new Promise((r) => server.close(r));
  }
});
