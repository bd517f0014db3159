import { invalidationChannel } from '../../src/api/key-invalidation';
import { startApiReplica, type ApiReplica } from '../support/api-replica';
import { startStack, type Stack } from '../support/stack';

/**
 * The admin API end to end: tenants, keys (secret shown once, stored hashed, visible prefix),
 * revoke/rotate/disable reaching a second API replica with a 300 s key cache within a second, the
 * action log, and every bad input refused with nothing written.
 */
let s: Stack;
let replica: ApiReplica;
const tenant = `adm-${Date.now().toString(36)}`;

const admin = (method: string, path: string, body?: unknown, actor = 'alice@example.com') =>
  fetch(`${s.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${s.cfg.ADMIN_TOKEN}`,
      'content-type': 'application/json',
      'x-admin-actor': actor,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, text: await r.clone().text(), body: (await r.json()) as any }));

async function startReplica(): Promise<ApiReplica> {
  // A second API replica whose key cache TTL (300 s) is far longer than the test, so only an
  // invalidation can end an entry.
  const r = await startApiReplica(s, { name: 'replica2', cfg: { API_KEY_CACHE_TTL_S: 300 } });
  // Both replicas' subscriptions are up before anything is revoked.
  const channel = invalidationChannel(s.cfg.REDIS_KEY_PREFIX);
  for (let i = 0; i < 100; i++) {
    const [, n] = (await s.redis.pubsub('NUMSUB', channel)) as [string, number];
    if (Number(n) >= 2) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  return r;
}

beforeAll(async () => {
  s = await startStack({ gpu: false });
  replica = await startReplica();
});
afterAll(async () => {
  await replica?.stop();
  await s?.stop();
});

const quotaAt = (base: string, key: string) =>
  fetch(`${base}/v1/quota`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.status);

/** Milliseconds until `base` answers `status` for the key (polling every 5 ms), or throws after 1 s. */
async function msUntil(base: string, key: string, status: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < 1000) {
    if ((await quotaAt(base, key)) === status) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`${base} did not answer ${status} within 1 s`);
}

let key1: { id: string; secret: string; prefix: string };

test('tenant keys, no token and a wrong token are refused on every admin route', async () => {
  for (const [method, path] of [
    ['GET', '/admin/tenants'],
    ['POST', '/admin/tenants'],
    ['GET', '/admin/audit-log'],
    ['GET', '/admin/usage'],
    ['POST', `/admin/tenants/${s.tenantId}/keys`],
  ]) {
    const body = method === 'GET' ? undefined : {};
    expect((await s.call(method!, path!, body)).status).toBe(401);
    expect((await s.call(method!, path!, body, null)).status).toBe(401);
    expect((await s.call(method!, path!, body, `${s.cfg.ADMIN_TOKEN}x`)).status).toBe(401);
  }
  // And the admin token is no tenant key.
  expect((await s.call('GET', '/v1/quota', undefined, s.cfg.ADMIN_TOKEN)).status).toBe(401);
});

test('create a tenant; bad input is a 4xx naming the field and writes nothing', async () => {
  for (const [body, param] of [
    [{ id: 'Bad Id', name: 'x' }, 'id'],
    [{ id: tenant }, 'name'],
    [{ id: tenant, name: 'x', tier: 'gold' }, 'tier'],
    [{ id: tenant, name: 'x', extra: 1 }, 'extra'],
    [{ id: tenant, name: 'x', tier: 5 }, 'tier'],
  ] as const) {
    const res = await admin('POST', '/admin/tenants', body);
    expect({ status: res.status, param: res.body.error?.param }).toEqual({ status: 400, param });
  }
  expect((await admin('GET', `/admin/tenants/${tenant}`)).status).toBe(404);
  expect(
    (await admin('POST', '/admin/tenants', { id: tenant, name: 'Acme' }, 'bad actor!')).body.error.param,
  ).toBe('X-Admin-Actor');

  const created = await admin('POST', '/admin/tenants', { id: tenant, name: 'Acme', tier: 'free' });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({ id: tenant, name: 'Acme', tier: 'free', disabled: false });
  expect(created.body.limits.requests_per_minute).toBe(60);
  expect((await admin('POST', '/admin/tenants', { id: tenant, name: 'Again' })).status).toBe(409);
  const list = await admin('GET', `/admin/tenants?limit=1000`);
  expect((list.body.data as any[]).map((t: { id: string }) => t.id)).toContain(tenant);
});

test('a key: its secret shown once, lists show the prefix only, and it works', async () => {
  expect((await admin('POST', '/admin/tenants/nobody-here/keys', {})).status).toBe(404);
  expect((await admin('POST', `/admin/tenants/${tenant}/keys`, { label: 7 })).body.error.param).toBe('label');
  const res = await admin('POST', `/admin/tenants/${tenant}/keys`, { label: 'ci' });
  expect(res.status).toBe(201);
  expect(res.body.secret).toMatch(/^sk-live-[A-Za-z0-9_-]{43}$/);
  expect(res.body.prefix).toBe((res.body.secret as string).slice(0, 12));
  key1 = res.body;

  const list = await admin('GET', `/admin/tenants/${tenant}/keys`);
  expect(list.body.data).toEqual([
    expect.objectContaining({
      id: key1.id,
      prefix: key1.prefix,
      label: 'ci',
      status: 'active',
      revoked_at: null,
    }),
  ]);
  expect(list.text).not.toContain(key1.secret);
  expect(list.text).not.toMatch(/secret|hash/);
  // Stored as a digest, not in clear.
  const { rows } = await s.pool.query('SELECT * FROM api_keys WHERE id = $1', [key1.id]);
  expect(JSON.stringify(rows)).not.toContain(key1.secret.slice(12));

  expect(await quotaAt(s.apiUrl, key1.secret)).toBe(200);
});

test('revoke reaches a second replica with a 300 s cache within a second', async () => {
  expect(await quotaAt(replica.url, key1.secret)).toBe(200); // primes replica 2's cache
  const before = await replica.metrics.registry.getSingleMetricAsString(
    'inference_api_key_cache_invalidations_total',
  );
  const res = await admin('POST', `/admin/tenants/${tenant}/keys/${key1.id}/revoke`);
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ id: key1.id, status: 'revoked', propagated: true });
  const ms = await msUntil(replica.url, key1.secret, 401);
  console.log(`revoke → refused on replica 2 after ${ms.toFixed(1)} ms`);
  expect(ms).toBeLessThan(1000);
  expect(await quotaAt(s.apiUrl, key1.secret)).toBe(401);
  const after = await replica.metrics.registry.getSingleMetricAsString(
    'inference_api_key_cache_invalidations_total',
  );
  expect(after).toMatch(/scope="key"[^}]*} 1$/m);
  expect(before).not.toMatch(/scope="key"/);

  // A second revoke is a conflict; unknown keys and tenants are 404s naming the parameter.
  expect((await admin('POST', `/admin/tenants/${tenant}/keys/${key1.id}/revoke`)).status).toBe(409);
  const unknown = await admin('POST', `/admin/tenants/${tenant}/keys/key_nope/revoke`);
  expect({ status: unknown.status, param: unknown.body.error.param }).toEqual({
    status: 404,
    param: 'keyId',
  });
  // Another tenant's key id under this tenant is not found either.
  const { rows } = await s.pool.query('SELECT id FROM api_keys WHERE tenant_id = $1', [s.tenantId]);
  expect((await admin('POST', `/admin/tenants/${tenant}/keys/${rows[0].id}/revoke`)).status).toBe(404);
});

test('rotate: a new key works at once; the old one stops on every replica (or after its grace)', async () => {
  const k = (await admin('POST', `/admin/tenants/${tenant}/keys`, { label: 'svc' })).body;
  expect(await quotaAt(replica.url, k.secret)).toBe(200);
  expect(
    (await admin('POST', `/admin/tenants/${tenant}/keys/${k.id}/rotate`, { grace_s: -1 })).body.error.param,
  ).toBe('grace_s');
  const rot = await admin('POST', `/admin/tenants/${tenant}/keys/${k.id}/rotate`, {});
  expect(rot.status).toBe(201);
  expect(rot.body).toMatchObject({ label: 'svc', replaced: { id: k.id, status: 'revoked' } });
  expect(rot.body.secret).not.toBe(k.secret);
  const ms = await msUntil(replica.url, k.secret, 401);
  console.log(`rotate → old key refused on replica 2 after ${ms.toFixed(1)} ms`);
  expect(await quotaAt(replica.url, rot.body.secret)).toBe(200);

  // With a grace period the old key keeps working until it ends.
  const graced = await admin('POST', `/admin/tenants/${tenant}/keys/${rot.body.id}/rotate`, { grace_s: 2 });
  expect(graced.body.replaced.status).toBe('expiring');
  expect(await quotaAt(replica.url, rot.body.secret)).toBe(200);
  expect(await quotaAt(replica.url, graced.body.secret)).toBe(200);
  await new Promise((r) => setTimeout(r, 2100));
  expect(await quotaAt(replica.url, rot.body.secret)).toBe(401); // cache entry ended with the grace
  expect(await quotaAt(s.apiUrl, rot.body.secret)).toBe(401);
  key1 = graced.body;
});

test('disable refuses the tenant on every replica within a second; enable lets it back', async () => {
  expect(await quotaAt(replica.url, key1.secret)).toBe(200);
  const res = await admin('POST', `/admin/tenants/${tenant}/disable`);
  expect(res.body.disabled).toBe(true);
  const ms = await msUntil(replica.url, key1.secret, 403);
  console.log(`disable → refused on replica 2 after ${ms.toFixed(1)} ms`);
  expect(await quotaAt(s.apiUrl, key1.secret)).toBe(403);
  await admin('POST', `/admin/tenants/${tenant}/enable`);
  await msUntil(replica.url, key1.secret, 200);
});

test('PATCH changes tier (limits follow), refuses bad fields, writes nothing on refusal', async () => {
  for (const [body, param] of [
    [{ tier: 'gold' }, 'tier'],
    [{ disabled: 'yes' }, 'disabled'],
    [{ name: '' }, 'name'],
    [{ colour: 'red' }, 'colour'],
  ] as const) {
    const r = await admin('PATCH', `/admin/tenants/${tenant}`, body);
    expect({ status: r.status, param: r.body.error?.param }).toEqual({ status: 400, param });
  }
  expect((await admin('PATCH', `/admin/tenants/${tenant}`, {})).status).toBe(400);
  expect((await admin('GET', `/admin/tenants/${tenant}`)).body).toMatchObject({ tier: 'free', name: 'Acme' });
  const up = await admin('PATCH', `/admin/tenants/${tenant}`, { tier: 'enterprise', name: 'Acme Inc' });
  expect(up.body).toMatchObject({ tier: 'enterprise', name: 'Acme Inc' });
  expect(up.body.limits.requests_per_minute).toBe(6000);
  // The replica's cached tenant (its tier and limits) was dropped too.
  await new Promise((r) => setTimeout(r, 100));
  const q = await fetch(`${replica.url}/v1/quota`, { headers: { authorization: `Bearer ${key1.secret}` } });
  expect(((await q.json()) as { tier: string }).tier).toBe('enterprise');
  // The existing limits route still works, and is logged.
  expect((await admin('PUT', `/admin/tenants/${tenant}/limits`, { max_in_flight: 3 })).status).toBe(200);
  expect((await admin('PUT', `/admin/tenants/${tenant}/limits`, { max_in_flight: -3 })).status).toBe(400);
});

test('the action log holds every change, with actor and parameters, never a secret', async () => {
  const res = await admin('GET', `/admin/audit-log?tenant=${tenant}&limit=500`);
  expect(res.status).toBe(200);
  const actions = (res.body.data as any[]).map((e: { action: string }) => e.action).reverse();
  expect(actions).toEqual([
    'tenant.create',
    'api_key.create',
    'api_key.revoke',
    'api_key.create',
    'api_key.rotate',
    'api_key.rotate',
    'tenant.disable',
    'tenant.enable',
    'tenant.update',
    'tenant.set_limits',
  ]);
  expect((res.body.data as any[]).every((e: { actor: string }) => e.actor === 'alice@example.com')).toBe(
    true,
  );
  const update = (res.body.data as any[]).find((e: { action: string }) => e.action === 'tenant.update');
  expect(update.params).toEqual({
    tier: { from: 'free', to: 'enterprise' },
    name: { from: 'Acme', to: 'Acme Inc' },
  });
  expect(res.text).not.toContain(key1.secret);
  expect(res.text).not.toMatch(/sk-live-[A-Za-z0-9_-]{20}/);

  // Pages, newest first.
  const p1 = await admin('GET', `/admin/audit-log?tenant=${tenant}&limit=4`);
  const p2 = await admin('GET', `/admin/audit-log?tenant=${tenant}&limit=4&cursor=${p1.body.next_cursor}`);
  expect(([...p1.body.data, ...p2.body.data] as any[]).map((e: { id: number }) => e.id)).toEqual(
    (res.body.data as any[]).slice(0, 8).map((e: { id: number }) => e.id),
  );
  const only = await admin('GET', `/admin/audit-log?tenant=${tenant}&action=api_key.revoke`);
  expect(only.body.data).toHaveLength(1);
  expect((await admin('GET', '/admin/audit-log?limit=0')).body.error.param).toBe('limit');
  expect((await admin('GET', '/admin/audit-log?action=DROP')).body.error.param).toBe('action');
});
