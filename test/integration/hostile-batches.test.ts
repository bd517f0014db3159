import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { ownDatabase } from '../support/own-database';
import { spawnSystemProcess, type SystemProcess } from '../support/processes';
import { startStack, type Stack } from '../support/stack';

/**
 * Issue 26: POST /v1/batches under hostile tenants. The API runs as a child process so that its
 * memory is measured from /proc (VmRSS), not guessed: a flood of newlines and a large valid-looking
 * batch must keep it within twice its idle RSS. Batches over the tenant's token quota or the
 * per-tenant caps are refused at create, leaving no rows, no Redis records and no workflows.
 */
let s: Stack;
let api: SystemProcess;
let db: Awaited<ReturnType<typeof ownDatabase>> | undefined;
const MiB = 1024 * 1024;
// Room for the 10,000-item batch of the memory test; the cap tests fill them with open batches.
const CAPS = { batches: 3, items: 20_000, tokens: 20_000_000 };

beforeAll(async () => {
  // Its own database: "nothing stored" counts whole tables.
  db = await ownDatabase('hbatch');
  const env = {
    DATABASE_URL: db.url,
    BATCH_TENANT_MAX_IN_FLIGHT: String(CAPS.batches),
    BATCH_TENANT_MAX_ITEMS_IN_FLIGHT: String(CAPS.items),
    BATCH_TENANT_MAX_ENQUEUED_TOKENS: String(CAPS.tokens),
  };
  s = await startStack({ env });
  // The API as its own process at the shipped body limit (64 MiB); four uploads at once per tenant, so
  // the parser's own bound (not the upload gate) is what the flood meets.
  api = await spawnSystemProcess(s, 'src/api/main.ts', '/readyz', {
    ...env,
    API_KEY_CACHE_TTL_S: '30',
    BATCH_MAX_CONCURRENT_UPLOADS_PER_TENANT: '4',
    // A trickled body is cut after 2 s without bytes (the slow-upload test); the floods never pause.
    BATCH_UPLOAD_IDLE_TIMEOUT_S: '2',
    FILE_MAX_BYTES: String(80 * MiB),
  });
  await s.setLimits({ tokens_per_day: 1_000_000_000, tokens_per_month: 1_000_000_000 });
}, 120_000);
afterAll(async () => {
  await api?.kill();
  await s?.stop();
  await db?.drop();
});

/** Resident memory of a process, MiB, from /proc/<pid>/status. */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

/** Samples `pid`'s RSS every 10 ms while `work` runs; its result and the peak. */
async function peakRss<T>(pid: number, work: () => Promise<T>): Promise<{ out: T; peak: number }> {
  let peak = rssMiB(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 10);
  try {
    const out = await work();
    return { out, peak: Math.max(peak, rssMiB(pid)) };
  } finally {
    clearInterval(timer);
  }
}

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * POSTs `total` bytes made of `piece` repeated (streamed with backpressure, as a client uploading a
 * file would), to `url`; the answer, or status 0 when the connection ended without one.
 */
function upload(
  url: string,
  key: string,
  type: string,
  pieces: () => Iterable<Buffer>,
  path = '/v1/batches',
): Promise<Answer> {
  return new Promise((resolve) => {
    let answered = false;
    const req = request(
      `${url}${path}`,
      { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': type } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          answered = true;
          resolve({ status: res.statusCode!, body, headers: res.headers });
        });
        res.on('error', () => undefined);
      },
    );
    req.on('error', () => {
      if (!answered) resolve({ status: 0, body: '', headers: {} });
    });
    void (async () => {
      for (const p of pieces()) {
        if (req.destroyed) return;
        if (!req.write(p))
          await new Promise<void>((r) => {
            const done = (): void => {
              req.off('drain', done).off('close', done);
              r();
            };
            req.on('drain', done).on('close', done);
          });
      }
      req.end();
    })();
  });
}

/** A multipart/form-data body of `purpose=batch` and a `file` part made of `file()`'s pieces. */
const BOUNDARY = 'hostile-boundary-7f3a';
function* multipartFile(file: () => Iterable<Buffer>): Iterable<Buffer> {
  yield Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n` +
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\n` +
      'Content-Type: application/jsonl\r\n\r\n',
  );
  yield* file();
  yield Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
}

function* repeat(chunk: Buffer, total: number): Iterable<Buffer> {
  for (let sent = 0; sent < total; sent += chunk.length)
    yield chunk.subarray(0, Math.min(chunk.length, total - sent));
}

const item = (i: number, prompt: string, maxTokens = 4): Record<string, unknown> => ({
  custom_id: `c-${i}`,
  body: { model: 'ref-small', prompt, max_tokens: maxTokens },
});

async function newTenant(limits: Record<string, number> = {}): Promise<{ id: string; key: string }> {
  const id = `hb-${randomBytes(6).toString('hex')}`;
  const key = `sk-hb-${randomBytes(12).toString('hex')}`;
  await s.tenants.ensure({ id, name: 'hostile batch tenant', tier: 'standard' });
  await s.tenants.addApiKey(id, key);
  if (Object.keys(limits).length) {
    const put = await s.call('PUT', `/admin/tenants/${id}/limits`, limits, s.cfg.ADMIN_TOKEN);
    expect(put.status).toBe(200);
  }
  return { id, key };
}

/** What a tenant has left behind: rows, Redis reservation records and workflows. */
async function traces(tenantId: string): Promise<Record<string, number>> {
  const n = async (sql: string): Promise<number> =>
    Number((await s.pool.query<{ n: string }>(sql, [tenantId])).rows[0]!.n);
  const records = await s.redis.keys(`${s.cfg.REDIS_KEY_PREFIX}:{t:${tenantId}}:r:*`);
  let workflows = 0;
  for await (const _ of s.client.workflow.list({ query: `TenantId = "${tenantId}"` })) workflows++;
  return {
    batches: await n('SELECT count(*) AS n FROM batches WHERE tenant_id = $1'),
    items: await n(
      'SELECT count(*) AS n FROM batch_items i JOIN batches b ON b.id = i.batch_id WHERE b.tenant_id = $1',
    ),
    requests: await n('SELECT count(*) AS n FROM requests WHERE tenant_id = $1'),
    records: records.length,
    workflows,
  };
}
const NOTHING = { batches: 0, items: 0, requests: 0, records: 0, workflows: 0 };

describe('API memory under hostile batch bodies (the API process, VmRSS)', () => {
  let idle: number;
  beforeAll(async () => {
    // Warm up: a small batch through every step (parse, tokenize, store, start), then settle.
    const warm = await s.callAt(api.url, 'POST', '/v1/batches', [item(0, 'warm up [[stop:1]]')]);
    expect(warm.status).toBe(202);
    await new Promise((r) => setTimeout(r, 1500));
    idle = rssMiB(api.proc.pid!);
  });

  test('four parallel 60 MB bodies of newlines: each a 400 at once, RSS within 2x idle', async () => {
    const newlines = Buffer.alloc(MiB, '\n');
    const started = Date.now();
    const { out, peak } = await peakRss(api.proc.pid!, () =>
      Promise.all(
        Array.from({ length: 4 }, () =>
          upload(api.url, s.apiKey, 'application/jsonl', () => repeat(newlines, 60 * MiB)),
        ),
      ),
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `newline flood 4 x 60 MB: idle ${idle.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB, ` +
        `answers ${out.map((a) => a.status).join(',')} in ${seconds.toFixed(1)} s`,
    );
    for (const a of out) {
      expect(a.status).toBe(400);
      expect(JSON.parse(a.body).error).toMatchObject({ type: 'invalid_request_error', param: 'items' });
    }
    expect(peak).toBeLessThanOrEqual(2 * idle);
  }, 120_000);

  test('a large valid-looking batch (10,000 items, 41 MB JSONL, the last over the context): 400, nothing stored, RSS within 2x idle', async () => {
    const before = await traces(s.tenantId);
    const words = 'the quick brown fox jumps over a lazy dog while seven wizards quietly hum '.repeat(54);
    const lines = function* (): Iterable<Buffer> {
      for (let i = 0; i < 10_000; i++) {
        // The last item fails only once tokenized (max_tokens over the context): every item before it
        // is parsed, tokenized and written before the refusal, which rolls them all back.
        const x = item(i, `${i} ${words}`, i === 9_999 ? 5000 : 4);
        yield Buffer.from(JSON.stringify(x) + '\n');
      }
    };
    let bytes = 0;
    for (const l of lines()) bytes += l.length;
    const started = Date.now();
    const { out, peak } = await peakRss(api.proc.pid!, () =>
      upload(api.url, s.apiKey, 'application/jsonl', lines),
    );
    console.log(
      `valid-looking batch (${(bytes / 1e6).toFixed(0)} MB, 10,000 items): idle ${idle.toFixed(0)} MiB, ` +
        `peak ${peak.toFixed(0)} MiB, answer ${out.status} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(out.status).toBe(400);
    expect(JSON.parse(out.body).error).toMatchObject({ param: 'items[9999].body.max_tokens' });
    expect(await traces(s.tenantId)).toEqual(before);
    expect(peak).toBeLessThanOrEqual(2 * idle);
  }, 300_000);

  test('POST /v1/files: a 60 MB file is stored as it streams in and one over FILE_MAX_BYTES is a 413, nothing kept; RSS within 2x idle', async () => {
    const filesOf = async (): Promise<number> =>
      Number(
        (
          await s.pool.query<{ n: string }>('SELECT count(*) AS n FROM files WHERE tenant_id = $1', [
            s.tenantId,
          ])
        ).rows[0]!.n,
      );
    const before = await filesOf();
    const words = 'the quick brown fox jumps over a lazy dog while seven wizards quietly hum '.repeat(80);
    const line = (i: number): Buffer =>
      Buffer.from(
        JSON.stringify({
          custom_id: `f-${i}`,
          method: 'POST',
          url: '/v1/chat/completions',
          body: { model: 'ref-small', messages: [{ role: 'user', content: `${i} ${words}` }], max_tokens: 4 },
        }) + '\n',
      );
    const lines = function* (): Iterable<Buffer> {
      for (let i = 0; i < 10_000; i++) yield line(i);
    };
    let bytes = 0;
    for (const l of lines()) bytes += l.length;
    const type = `multipart/form-data; boundary=${BOUNDARY}`;
    const started = Date.now();
    const stored = await peakRss(api.proc.pid!, () =>
      upload(api.url, s.apiKey, type, () => multipartFile(lines), '/v1/files'),
    );
    console.log(
      `file upload (${(bytes / 1e6).toFixed(0)} MB, 10,000 lines): idle ${idle.toFixed(0)} MiB, ` +
        `peak ${stored.peak.toFixed(0)} MiB, answer ${stored.out.status} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(stored.out.status).toBe(200);
    expect(JSON.parse(stored.out.body)).toMatchObject({ object: 'file', bytes, purpose: 'batch' });
    expect(stored.peak).toBeLessThanOrEqual(2 * idle);

    // Over FILE_MAX_BYTES (80 MiB here), with no Content-Length: refused once the limit is passed.
    const huge = Buffer.alloc(MiB, 'x');
    huge[MiB - 1] = 0x0a; // lines of 1 MiB: under BATCH_MAX_ITEM_BYTES, so the size bound is what stops it
    const refused = await peakRss(api.proc.pid!, () =>
      upload(api.url, s.apiKey, type, () => multipartFile(() => repeat(huge, 200 * MiB)), '/v1/files'),
    );
    console.log(
      `file upload over the limit (200 MB sent): peak ${refused.peak.toFixed(0)} MiB, answer ${refused.out.status}`,
    );
    expect([413, 0]).toContain(refused.out.status);
    if (refused.out.status === 413)
      expect(JSON.parse(refused.out.body).error).toMatchObject({ param: 'file' });
    expect(refused.peak).toBeLessThanOrEqual(2 * idle);
    expect(await filesOf()).toBe(before + 1);
  }, 300_000);
});

describe('batches decided against quota and caps at create; refused work leaves nothing', () => {
  const batch = (n: number, maxTokens = 4): Record<string, unknown>[] =>
    Array.from({ length: n }, (_, i) => item(i, `batch item ${i} [[stop:2]]`, maxTokens));

  test('tokens_per_day 0: a 200-item batch is a 429 quota_exceeded with the quota headers, nothing stored', async () => {
    const t = await newTenant({ tokens_per_day: 0 });
    const res = await s.call('POST', '/v1/batches', batch(200), t.key);
    await new Promise((r) => setTimeout(r, 1000)); // anything started would show by now
    const left = await traces(t.id);
    console.log(`tokens_per_day 0, 200-item batch: ${res.status}, left behind ${JSON.stringify(left)}`);
    expect(res.status).toBe(429);
    expect(res.body.error).toMatchObject({ type: 'quota_exceeded', param: 'tokens_per_day' });
    expect(res.body.error.message).toMatch(/this batch needs \d+/);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(res.headers.get('x-ratelimit-limit-name')).toBe('tokens_per_day');
    expect(res.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(left).toEqual(NOTHING);
  });

  test('a batch whose total is over the tokens left is refused, though each item would fit; one that fits is taken', async () => {
    // 100 items of max_tokens 50: each needs about 56 tokens; together about 5,600 > 3,000.
    const t = await newTenant({ tokens_per_day: 3000 });
    const over = await s.call('POST', '/v1/batches', batch(100, 50), t.key);
    expect(over.status).toBe(429);
    expect(over.body.error.param).toBe('tokens_per_day');
    expect(await traces(t.id)).toEqual(NOTHING);
    const fits = await s.call('POST', '/v1/batches', batch(10, 50), t.key);
    expect(fits.status).toBe(202);
  });

  test('caps: batches, items and enqueued tokens in flight per tenant; 429 naming the cap, nothing stored', async () => {
    const t = await newTenant();
    // Open batches of this tenant, as the caps see them (not ended; their items are not needed).
    const open = async (total: number, tokens: number): Promise<void> => {
      await s.pool.query(
        `INSERT INTO batches (id, tenant_id, status, total, concurrency, estimated_tokens)
         VALUES ($1, $2, 'in_progress', $3, 1, $4)`,
        [`batch_${randomBytes(16).toString('hex')}`, t.id, total, tokens],
      );
    };
    const refusedBy = async (body: unknown): Promise<string> => {
      const res = await s.call('POST', '/v1/batches', body, t.key);
      expect(res.status).toBe(429);
      expect(res.body.error.type).toBe('quota_exceeded');
      expect(res.headers.get('x-ratelimit-limit-name')).toBe(res.body.error.param);
      return res.body.error.param as string;
    };
    const baseline = await traces(t.id);
    await open(CAPS.items - 5, 0);
    expect(await refusedBy(batch(6))).toBe('batch_items_in_flight');
    await s.pool.query('DELETE FROM batches WHERE tenant_id = $1', [t.id]);
    await open(1, CAPS.tokens - 100);
    expect(await refusedBy(batch(10, 50))).toBe('batch_enqueued_tokens');
    await open(1, 0);
    await open(1, 0);
    expect(await refusedBy(batch(1))).toBe('batches_in_flight');
    expect(await traces(t.id)).toEqual({ ...baseline, batches: 3 });
    // Ended batches do not count.
    await s.pool.query(`UPDATE batches SET status = 'completed', estimated_tokens = 0 WHERE tenant_id = $1`, [
      t.id,
    ]);
    const ok = await s.call('POST', '/v1/batches', batch(1), t.key);
    expect(ok.status).toBe(202);
  });

  test('two replicas creating at once for one tenant under a cap that fits one: exactly one 202', async () => {
    const t = await newTenant();
    await s.pool.query(
      `INSERT INTO batches (id, tenant_id, status, total, concurrency) VALUES ($1, $2, 'in_progress', $3, 1)`,
      [`batch_${randomBytes(16).toString('hex')}`, t.id, CAPS.items - 150],
    );
    const [a, b] = await Promise.all([
      s.call('POST', '/v1/batches', batch(100), t.key),
      s.callAt(api.url, 'POST', '/v1/batches', batch(100), t.key),
    ]);
    expect([a.status, b.status].sort()).toEqual([202, 429]);
    expect([a.body, b.body].find((x) => x.error)!.error.param).toBe('batch_items_in_flight');
    expect((await traces(t.id)).items).toBe(100);
  });

  test('a second upload of a tenant while its first is still being read: 429 with Retry-After, before its body', async () => {
    const t = await newTenant();
    // The first upload sends half an item and waits.
    const slow = request(`${s.apiUrl}/v1/batches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/jsonl' },
    });
    const firstAnswer = new Promise<number>((resolve) => {
      slow.on('response', (r) => {
        r.resume();
        resolve(r.statusCode!);
      });
      slow.on('error', () => resolve(0));
    });
    slow.write('{"custom_id":"a",');
    await new Promise((r) => setTimeout(r, 300));
    const second = await s.call('POST', '/v1/batches', batch(1), t.key);
    expect(second.status).toBe(429);
    expect(second.body.error.type).toBe('rate_limit_error');
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    slow.end('"body":{"model":"ref-small","prompt":"hi [[stop:1]]","max_tokens":2}}\n');
    expect(await firstAnswer).toBe(202);
  });

  test('a body trickled with pauses: 408 after BATCH_UPLOAD_IDLE_TIMEOUT_S, its upload slot freed, nothing stored', async () => {
    const t = await newTenant();
    const slow = request(`${api.url}/v1/batches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/jsonl' },
    });
    const started = Date.now();
    const answer = new Promise<{ status: number; body: string }>((resolve) => {
      slow.on('response', (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (d: string) => (body += d));
        r.on('end', () => resolve({ status: r.statusCode!, body }));
      });
      slow.on('error', () => resolve({ status: 0, body: '' }));
    });
    slow.write(JSON.stringify(item(0, 'first item, whole')) + '\n{"custom_id":"c-1",');
    const a = await answer;
    const tookMs = Date.now() - started;
    slow.destroy();
    expect(a.status).toBe(408);
    expect(JSON.parse(a.body).error).toMatchObject({ type: 'request_timeout', param: 'body' });
    expect(tookMs).toBeGreaterThanOrEqual(1900);
    expect(tookMs).toBeLessThan(15_000);
    expect(await traces(t.id)).toEqual(NOTHING);
    // The gate's slot (one upload per tenant at a time) is free again.
    const next = await s.callAt(api.url, 'POST', '/v1/batches', [item(0, 'hello [[stop:1]]', 2)], t.key);
    expect(next.status).toBe(202);
  });

  test('refusals are counted by outcome', async () => {
    const m = await s.metrics.registry.getSingleMetricAsString('inference_batches_created_total');
    for (const outcome of ['quota', 'capped', 'busy', 'accepted'])
      expect(m).toContain(`outcome="${outcome}"`);
  });
});
