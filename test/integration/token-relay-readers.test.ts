import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { CLEAR_AT_REST } from '../../src/codec/at-rest-sealer';
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
  const relay = new TokenRelay({
    redis,
    prefix: name,
    retentionS: 60,
    sealer: CLEAR_AT_REST,
    readerIdleMs: 60_000,
  });
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
  const relay = new TokenRelay({ redis: own, prefix: `${name}-b`, retentionS: 60, sealer: CLEAR_AT_REST });
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
    relay = new TokenRelay({ redis: own, prefix, retentionS: 60, sealer: CLEAR_AT_REST });
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
  const relay = new TokenRelay({ redis: own, prefix: `${name}-idle`, retentionS: 60, sealer: CLEAR_AT_REST });
  afterAll(async () => {
    await own.quit();
  });
  /** The relay, recording how long each of the follower's reads blocks (undefined: not at all). */
  const recording = (beforeRead?: (reads: number) => Promise<void>) => {
    const blocks: (number | undefined)[] = [];
    const spy = Object.create(relay) as TokenRelay;
    spy.read = async (id, after, block, redis) => {
      blocks.push(block);
      await beforeRead?.(blocks.length);
      return relay.read(id, after, block, redis);
    };
    spy.readEnd = (id, block, redis) => {
      blocks.push(block);
      return relay.readEnd(id, block, redis);
    };
    return { spy, blocks };
  };
  /** terminalStatus that answers `completed` on the `n`th call. */
  const terminalOn = (n: number) => {
    let asked = 0;
    return async (): Promise<string | undefined> => (++asked >= n ? 'completed' : undefined);
  };

  test('a wait blocks 1x, 2x, 4x the first idle time, then the cap, between its PostgreSQL checks', async () => {
    const { spy, blocks } = recording();
    let counted = 0;
    const follower = new RequestFollower({
      relay: spy,
      idleCheckMs: 50,
      maxIdleCheckMs: 200,
      idleChecks: { inc: () => void counted++ },
    });
    const end = await follower.end('silent', {
      signal: new AbortController().signal,
      terminalStatus: terminalOn(6),
      fresh: true,
    });
    expect(end).toEqual({ status: 'completed', by: 'postgres' });
    expect(counted).toBe(6);
    expect(blocks).toEqual([50, 100, 200, 200, 200, 200]);
  });

  test('a stream that sends something goes back to the first idle time', async () => {
    // The token lands just before the fifth read, the one that would block 400 ms.
    const { spy, blocks } = recording(async (reads) => {
      if (reads === 5) await relay.append('bursty', [{ type: 'text', attempt: 1, text: 'x' }]);
    });
    const follower = new RequestFollower({ relay: spy, idleCheckMs: 50, maxIdleCheckMs: 400 });
    const seen: string[] = [];
    for await (const e of follower.follow('bursty', {
      signal: new AbortController().signal,
      terminalStatus: terminalOn(6),
    }))
      seen.push(e.event.type);
    expect(seen).toEqual(['text', 'final']);
    // First read at once, then 50, 100, 200, 400 (the token), 50 and 100 again, and a last read
    // (at once) of what landed before the final check.
    expect(blocks).toEqual([undefined, 50, 100, 200, 400, 50, 100, undefined]);
  });
});
