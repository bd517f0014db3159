import { Redis } from 'ioredis';
import { runScript } from '../../src/quota/run-script';

/** EVALSHA with a fallback: the script text travels once per server, and a flushed cache heals. */
const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
afterAll(() => redis.quit());

const SCRIPT = `return {KEYS[1], ARGV[1], ${Date.now()}}`;

test('runs by SHA1 once loaded, and reloads after the server forgot its scripts', async () => {
  const key = `run-script-test-${process.pid}`;
  const first = (await runScript(redis, SCRIPT, [key], ['a'])) as unknown[];
  expect(first.slice(0, 2)).toEqual([key, 'a']);
  const sha = (await redis.script('LOAD', SCRIPT)) as string;
  expect(await redis.script('EXISTS', sha)).toEqual([1]);
  await redis.script('FLUSH');
  expect(await redis.script('EXISTS', sha)).toEqual([0]);
  expect(((await runScript(redis, SCRIPT, [key], ['b'])) as unknown[]).slice(0, 2)).toEqual([key, 'b']);
  expect(await redis.script('EXISTS', sha)).toEqual([1]);
});
