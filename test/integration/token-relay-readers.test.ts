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
