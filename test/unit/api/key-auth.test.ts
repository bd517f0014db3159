import { Registry } from 'prom-client';
import { KeyAuthenticator, type TenantLookup } from '../../../src/api/auth';
import { FailedAuthLimiter, LookupGate } from '../../../src/api/auth-limiter';
import { authMetrics } from '../../../src/api/auth-metrics';
import { ApiKeyCache } from '../../../src/api/key-cache';
import { AppError } from '../../../src/errors/app-error';
import { hashApiKey } from '../../../src/tenants/api-key';
import type { ActiveKey } from '../../../src/tenants/tenants-repo';

const active = (tenant: string, keyId: string, disabled = false): ActiveKey => ({
  tenant: {
    id: tenant,
    name: tenant,
    tier: 'free',
    disabled,
    priority: 5,
    limits: { requestsPerMinute: 1, requestsPerDay: 1, tokensPerDay: 1, tokensPerMonth: 1, maxInFlight: 1 },
  },
  keyId,
  expiresAt: null,
});

describe('ApiKeyCache', () => {
  test('a valid key survives a flood of misses (misses have their own bounded cache)', () => {
    const c = new ApiKeyCache({ ttlS: 300, maxEntries: 4, maxMisses: 100 });
    c.set('valid', active('t', 'k'), c.ticket());
    for (let i = 0; i < 10_000; i++) c.set(`wrong-${i}`, undefined, c.ticket());
    expect(c.get('valid')?.key?.keyId).toBe('k');
    expect(c.size).toBe(1);
    expect(c.missSize).toBe(100);
    // The most recent misses are kept, the oldest forgotten.
    expect(c.get('wrong-9999')).toEqual({ key: undefined });
    expect(c.get('wrong-0')).toBeUndefined();
  });

  test('valid keys leave least recently used first, one at a time', () => {
    const c = new ApiKeyCache({ ttlS: 300, maxEntries: 2 });
    c.set('a', active('t', 'a'), c.ticket());
    c.set('b', active('t', 'b'), c.ticket());
    c.get('a'); // a is now the more recent
    c.set('c', active('t', 'c'), c.ticket());
    expect(c.get('a')?.key?.keyId).toBe('a');
    expect(c.get('b')).toBeUndefined();
    expect(c.get('c')?.key?.keyId).toBe('c');
  });

  test('an answer read before an invalidation of its tenant is not cached after it', () => {
    const c = new ApiKeyCache({ ttlS: 300 });
    const before = c.ticket();
    c.drop('t', 'k'); // the revoke's message arrives while the look-up is under way
    expect(c.set('d', active('t', 'k'), before)).toBe(false);
    expect(c.get('d')).toBeUndefined();
    // Another tenant's invalidation does not stop it; a look-up begun after does cache.
    expect(c.set('e', active('u', 'k2'), before)).toBe(true);
    expect(c.set('d', active('t', 'k'), c.ticket())).toBe(true);
  });

  test('a clear (resubscribed channel) makes every look-up under way stale, even of forgotten tenants', () => {
    const c = new ApiKeyCache({ ttlS: 300, maxTenants: 2 });
    const before = c.ticket();
    c.clear();
    expect(c.set('d', active('t', 'k'), before)).toBe(false);
    const t2 = c.ticket();
    c.drop('x');
    c.drop('y');
    c.drop('z'); // x's invalidation is forgotten: every earlier ticket is stale instead
    expect(c.set('d', active('x', 'k'), t2)).toBe(false);
    expect(c.set('d', active('x', 'k'), c.ticket())).toBe(true);
  });
});

describe('FailedAuthLimiter', () => {
  test('a source may fail `burst` times, then waits 1/rate s per further failure; a success gives its token back', () => {
    let now = 0;
    const l = new FailedAuthLimiter({ burst: 3, ratePerS: 0.5, now: () => now });
    for (let i = 0; i < 3; i++) expect(l.take('a')).toBe(0);
    expect(l.take('a')).toBeCloseTo(2);
    expect(l.take('b')).toBe(0); // another source is not held back
    now += 1000;
    expect(l.take('a')).toBeCloseTo(1);
    now += 1000;
    expect(l.take('a')).toBe(0);
    l.refund('a'); // that attempt's key was valid
    expect(l.take('a')).toBe(0);
    expect(l.take('a')).toBeGreaterThan(0);
  });

  test('the table of sources is bounded', () => {
    const l = new FailedAuthLimiter({ burst: 1, ratePerS: 1, maxSources: 50 });
    for (let i = 0; i < 10_000; i++) l.take(`10.0.${i >> 8}.${i & 255}`);
    expect(l.size).toBe(50);
  });
});

describe('LookupGate', () => {
  test('at most `concurrency` look-ups at once; past the queue a look-up is refused; one query per digest', async () => {
    const gate = new LookupGate({ concurrency: 2, maxQueued: 3 });
    let running = 0;
    let most = 0;
    const release: (() => void)[] = [];
    const slow = () =>
      new Promise<number>((resolve) => {
        most = Math.max(most, ++running);
        release.push(() => {
          running--;
          resolve(1);
        });
      });
    const runs = ['a', 'b', 'c', 'd', 'e'].map((d) => gate.run(d, slow));
    await expect(gate.run('f', slow)).rejects.toThrow('too many API key look-ups');
    const same = gate.run('a', slow); // joins a's query
    while (release.length) {
      release.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all([...runs, same]);
    expect(most).toBe(2);
    expect(gate.pending).toBe(0);
  });
});

function authenticator(o: { lookup: TenantLookup; burst?: number; concurrency?: number }) {
  const registry = new Registry();
  const metrics = authMetrics(registry);
  const cache = new ApiKeyCache({ ttlS: 300, maxEntries: 100, maxMisses: 100 });
  const auth = new KeyAuthenticator({
    lookup: o.lookup,
    cache,
    limiter: new FailedAuthLimiter({ burst: o.burst ?? 5, ratePerS: 0.1 }),
    gate: new LookupGate({ concurrency: o.concurrency ?? 4, maxQueued: 1000 }),
    metrics,
  });
  return { auth, cache, metrics, registry };
}

const statusOf = async (p: Promise<unknown>): Promise<{ type: string; retryAfterS?: number } | 'ok'> =>
  p.then(
    () => 'ok' as const,
    (err: unknown) => {
      expect(err).toBeInstanceOf(AppError);
      return { type: (err as AppError).type, retryAfterS: (err as AppError).retryAfterS };
    },
  );

describe('KeyAuthenticator', () => {
  const validHash = hashApiKey('valid-key').toString('hex');
  const lookupOf = (calls: string[]): TenantLookup => ({
    findApiKey: async (h) => {
      calls.push(h.toString('hex'));
      return h.toString('hex') === validHash ? active('t', 'k') : undefined;
    },
  });

  test('past its failures a source gets 429 without a look-up; its cached valid key still works', async () => {
    const calls: string[] = [];
    const { auth, metrics } = authenticator({ lookup: lookupOf(calls), burst: 5 });
    expect(await statusOf(auth.authenticate('valid-key', 'evil'))).toBe('ok');
    for (let i = 0; i < 1000; i++) await statusOf(auth.authenticate(`wrong-${i}`, 'evil'));
    // One look-up for the valid key, then five failures; the other 995 wrong keys never reached it.
    expect(calls.length).toBe(6);
    const limited = await statusOf(auth.authenticate('wrong-x', 'evil'));
    expect(limited).toMatchObject({ type: 'rate_limit_error' });
    expect((limited as { retryAfterS: number }).retryAfterS).toBeGreaterThan(0);
    expect(await statusOf(auth.authenticate('valid-key', 'evil'))).toBe('ok');
    expect(await statusOf(auth.authenticate('wrong-y', 'someone-else'))).toMatchObject({
      type: 'authentication_error',
    });
    expect(calls.length).toBe(7);
    expect((await metrics.rateLimited.get()).values[0]!.value).toBe(996);
    expect((await metrics.failures.get()).values.find((v) => v.labels.reason === 'invalid')!.value).toBe(6);
  });

  test('wrong keys at once from one address cannot overrun its burst while their look-ups are under way', async () => {
    let calls = 0;
    const { auth } = authenticator({
      lookup: { findApiKey: () => new Promise((r) => setTimeout(() => r(void calls++), 20)) },
      burst: 5,
    });
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => statusOf(auth.authenticate(`w-${i}`, 'evil'))),
    );
    expect(calls).toBe(5);
    expect(answers.filter((a) => a !== 'ok' && a.type === 'rate_limit_error').length).toBe(195);
  });

  test('a burst with one valid key not yet cached (a cold replica): every request served, one look-up, no token', async () => {
    let calls = 0;
    const { auth } = authenticator({
      lookup: {
        findApiKey: (h) =>
          new Promise((r) =>
            setTimeout(
              () => (calls++, r(h.toString('hex') === validHash ? active('t', 'k') : undefined)),
              20,
            ),
          ),
      },
      burst: 5,
    });
    const answers = await Promise.all(
      Array.from({ length: 1000 }, () => statusOf(auth.authenticate('valid-key', 'one-nat'))),
    );
    expect(answers.every((a) => a === 'ok')).toBe(true);
    expect(calls).toBe(1);
    // The source's whole burst is still there for its own failures.
    for (let i = 0; i < 5; i++)
      expect(await statusOf(auth.authenticate(`w-${i}`, 'one-nat'))).toMatchObject({
        type: 'authentication_error',
      });
    expect(await statusOf(auth.authenticate('w-6', 'one-nat'))).toMatchObject({ type: 'rate_limit_error' });
  });

  test("joiners of a wrong key's look-up under way are failures of their source too", async () => {
    let calls = 0;
    const { auth } = authenticator({
      lookup: { findApiKey: () => new Promise((r) => setTimeout(() => r(void calls++), 20)) },
      burst: 5,
    });
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => statusOf(auth.authenticate('same-wrong', 'evil'))),
    );
    expect(calls).toBe(1);
    expect(answers.filter((a) => a !== 'ok' && a.type === 'authentication_error').length).toBe(5);
    expect(answers.filter((a) => a !== 'ok' && a.type === 'rate_limit_error').length).toBe(45);
  });

  test('a repeated wrong key is answered from the miss cache (still counted against its source)', async () => {
    const calls: string[] = [];
    const { auth } = authenticator({ lookup: lookupOf(calls), burst: 3 });
    for (let i = 0; i < 3; i++) await statusOf(auth.authenticate('same-wrong', 'a'));
    expect(calls.length).toBe(1);
    expect(await statusOf(auth.authenticate('same-wrong', 'a'))).toMatchObject({ type: 'rate_limit_error' });
  });

  test('a look-up that straddles an invalidation is answered but not cached', async () => {
    const calls: string[] = [];
    const { auth, cache } = authenticator({
      lookup: {
        findApiKey: async (h) => {
          calls.push(h.toString('hex'));
          cache.drop('t', 'k'); // the revoke lands after PostgreSQL answered, before the answer is cached
          return active('t', 'k');
        },
      },
    });
    expect(await statusOf(auth.authenticate('valid-key', 'a'))).toBe('ok');
    expect(cache.get(validHash)).toBeUndefined();
    await statusOf(auth.authenticate('valid-key', 'a'));
    expect(calls.length).toBe(2); // read again, not served the stale answer
  });

  test('missing key 401, disabled tenant 403, neither held against the source', async () => {
    const { auth } = authenticator({
      lookup: { findApiKey: async () => active('t', 'k', true) },
      burst: 1,
    });
    expect(await statusOf(auth.authenticate(undefined, 'a'))).toMatchObject({ type: 'authentication_error' });
    expect(await statusOf(auth.authenticate('k', 'a'))).toMatchObject({ type: 'permission_error' });
    expect(await statusOf(auth.authenticate('k', 'a'))).toMatchObject({ type: 'permission_error' });
  });
});
