import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { RequestFollower } from '../../src/streams/request-follower';
import { TokenRelay } from '../../src/streams/token-relay';

/** Followers reuse the relay's idle blocking-read connections instead of opening one each (real Redis). */
const url = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
let redis: Redis;
let admin: Redis;
const name = `relay-readers-${randomBytes(4).toString('hex')}`;

beforeAll(() => {
  redis = new Redis(url, { connectionName: name });
  admin = new Redis(url);
});
afterAll(async () => {
  await admin.quit();
});

const clientsNamed = async (): Promise<number> =>
  ((await admin.call('CLIENT', 'LIST')) as string).split('\n').filter((l) => l.includes(`name=${name}`))
    .length;

test('sequential followers share one reader; it closes with the relay connection', async () => {
  const relay = new TokenRelay({ redis, prefix: name, readerIdleMs: 60_000 });
  const follower = new RequestFollower({ relay });
  await redis.ping();
  for (let i = 0; i < 5; i++) {
    const id = `req-${i}`;
    await relay.append(id, [
      { type: 'text', attempt: 1, text: `t${i}` },
      { type: 'final', status: 'completed' },
    ]);
    const seen: string[] = [];
    for await (const e of follower.follow(id, {
      signal: new AbortController().signal,
      terminalStatus: async () => undefined,
    }))
      seen.push(e.event.type);
    expect(seen).toEqual(['text', 'final']);
  }
  // The relay's own connection plus one reader, not one per follower.
  expect(await clientsNamed()).toBe(2);
  await redis.quit();
  for (let i = 0; i < 50 && (await clientsNamed()) > 0; i++) await new Promise((r) => setTimeout(r, 20));
  expect(await clientsNamed()).toBe(0);
});

test('an aborted follower does not give its cut connection back', async () => {
  const own = new Redis(url, { connectionName: `${name}-b` });
  const relay = new TokenRelay({ redis: own, prefix: `${name}-b` });
  const follower = new RequestFollower({ relay, idleCheckMs: 5000 });
  const ac = new AbortController();
  const following = (async () => {
    for await (const _ of follower.follow('idle', {
      signal: ac.signal,
      terminalStatus: async () => undefined,
    }));
  })();
  await new Promise((r) => setTimeout(r, 200));
  ac.abort();
  await following;
  const reader = relay.reader();
  await reader.ping();
  expect(reader.status).toBe('ready');
  reader.disconnect();
  await own.quit();
});

describe('waiting for the end only', () => {
  let own: Redis;
  let relay: TokenRelay;
  const prefix = `${name}-end`;
  beforeAll(() => {
    own = new Redis(url);
    relay = new TokenRelay({ redis: own, prefix });
  });
  afterAll(async () => {
    await own.quit();
  });

  test('announceEnd writes the stream `final` and the end signal; a fresh wait ends on the signal, without PostgreSQL', async () => {
    const follower = new RequestFollower({ relay, idleCheckMs: 5000 });
    let asked = 0;
    const terminalStatus = async (): Promise<string | undefined> => (asked++, undefined);
    const t0 = performance.now();
    const waiting = follower.end('fresh', {
      signal: new AbortController().signal,
      terminalStatus,
      fresh: true,
    });
    await new Promise((r) => setTimeout(r, 100));
    await relay.announceEnd('fresh', 'completed');
    expect(await waiting).toEqual({ status: 'completed', by: 'signal' });
    expect(performance.now() - t0).toBeLessThan(4000); // the signal, not the 5 s idle check
    expect(asked).toBe(0);
    const stream = await relay.read('fresh', '0-0');
    expect(stream.map((e) => e.event)).toEqual([{ type: 'final', status: 'completed' }]);
    const ttl = await own.ttl(relay.endKey('fresh'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60); // shorter than the stream's: see endRetentionS
  });

  test('a late wait finds the end signal at once; one whose signal never came ends on PostgreSQL', async () => {
    const follower = new RequestFollower({ relay, idleCheckMs: 100 });
    await relay.announceEnd('late', 'failed');
    const signal = new AbortController().signal;
    expect(await follower.end('late', { signal, terminalStatus: async () => undefined })).toEqual({
      status: 'failed',
      by: 'signal',
    });
    let asked = 0;
    const fromPg = async (): Promise<string | undefined> => (++asked >= 2 ? 'cancelled' : undefined);
    expect(await follower.end('lost', { signal, terminalStatus: fromPg, fresh: true })).toEqual({
      status: 'cancelled',
      by: 'postgres',
    });
    expect(asked).toBe(2);
  });

  test('an aborted wait resolves undefined', async () => {
    const follower = new RequestFollower({ relay, idleCheckMs: 5000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    expect(await follower.end('never', { signal: ac.signal, terminalStatus: async () => undefined })).toBe(
      undefined,
    );
  });
});

describe('idle checks back off while the request stays silent', () => {
  const own = new Redis(url);
  const relay = new TokenRelay({ redis: own, prefix: `${name}-idle` });
  afterAll(async () => {
    await own.quit();
  });
  /** terminalStatus that answers `status` on the `n`th call; records when each call came. */
  const askedAt = (n: number, status = 'completed') => {
    const at: number[] = [];
    const ask = async (): Promise<string | undefined> => {
      at.push(performance.now());
      return at.length >= n ? status : undefined;
    };
    const gaps = () => at.slice(1).map((t, i) => t - at[i]!);
    return { at, ask, gaps };
  };

  test('a wait asks PostgreSQL after 1x, 2x, 4x the first idle time, then at the cap', async () => {
    let counted = 0;
    const follower = new RequestFollower({
      relay,
      idleCheckMs: 50,
      maxIdleCheckMs: 200,
      idleChecks: { inc: () => void counted++ },
    });
    const pg = askedAt(6);
    const end = await follower.end('silent', {
      signal: new AbortController().signal,
      terminalStatus: pg.ask,
      fresh: true,
    });
    expect(end).toEqual({ status: 'completed', by: 'postgres' });
    expect(counted).toBe(6);
    // Each check follows a blocking read of that length: 100, 200, 200, 200 ms between them.
    const gaps = pg.gaps();
    [100, 200, 200, 200, 200].forEach((ms, i) => expect(gaps[i]).toBeGreaterThanOrEqual(ms * 0.9));
    expect(gaps[0]!).toBeLessThan(gaps[1]! * 0.8);
  });

  test('a stream that sends something is checked after the first idle time again', async () => {
    const follower = new RequestFollower({ relay, idleCheckMs: 50, maxIdleCheckMs: 400 });
    const pg = askedAt(6);
    const seen: string[] = [];
    const following = (async () => {
      for await (const e of follower.follow('bursty', {
        signal: new AbortController().signal,
        terminalStatus: pg.ask,
      }))
        seen.push(e.event.type);
    })();
    // Silent until the fourth check (gaps 50, 100, 200 ms), then one token.
    while (pg.at.length < 4) await new Promise((r) => setTimeout(r, 10));
    await relay.append('bursty', [{ type: 'text', attempt: 1, text: 'x' }]);
    await following;
    expect(seen).toEqual(['text', 'final']);
    const gaps = pg.gaps();
    expect(gaps[2]).toBeGreaterThanOrEqual(180); // backed off to 200 ms
    // After the token the idle time starts again at 50 ms (100 ms next), not at the 400 ms cap.
    expect(gaps[3]).toBeLessThan(150);
    expect(gaps[4]).toBeLessThan(150);
  });
});
