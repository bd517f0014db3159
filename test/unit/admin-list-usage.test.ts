import { ApiKeyCache } from '../../src/api/key-cache';
import { csvField, toCsv } from '../../src/api/csv';
import { decodeCursor, encodeCursor } from '../../src/requests/list-cursor';
import type { ActiveKey } from '../../src/tenants/tenants-repo';

test('CSV fields are quoted when they hold a comma, quote, CR or LF (RFC 4180)', () => {
  expect(csvField('plain')).toBe('plain');
  expect(csvField('a,b')).toBe('"a,b"');
  expect(csvField('say "hi"')).toBe('"say ""hi"""');
  expect(csvField('two\nlines')).toBe('"two\nlines"');
  expect(csvField(undefined)).toBe('');
  expect(toCsv(['m', 'n'], [{ m: 'x,y', n: 3 }])).toBe('m,n\r\n"x,y",3\r\n');
});

test('a list cursor round-trips; anything else is refused', () => {
  const p = { acceptedAt: '2026-01-02T03:04:05.123456Z', id: `inf_${'a'.repeat(32)}` };
  expect(decodeCursor(encodeCursor(p))).toEqual(p);
  for (const bad of ['', 'x', '%%', Buffer.from('[1,2]').toString('base64url'), 'a'.repeat(300)])
    expect(decodeCursor(bad)).toBeUndefined();
});

const key = (tenant: string, keyId: string, expiresAt: Date | null = null): ActiveKey => ({
  tenant: {
    id: tenant,
    name: tenant,
    tier: 'free',
    disabled: false,
    priority: 5,
    limits: { requestsPerMinute: 1, requestsPerDay: 1, tokensPerDay: 1, tokensPerMonth: 1, maxInFlight: 1 },
  },
  keyId,
  expiresAt,
});

test('the key cache drops by key, by tenant, at its TTL and at a key’s end of grace', () => {
  let now = 1_000_000;
  const c = new ApiKeyCache({ ttlS: 300, now: () => now });
  c.set('d1', key('a', 'k1'), c.ticket());
  c.set('d2', key('a', 'k2'), c.ticket());
  c.set('d3', key('b', 'k3', new Date(now + 2000)), c.ticket());
  c.set('d4', undefined, c.ticket());
  expect(c.drop('a', 'k1')).toBe(1);
  expect(c.get('d1')).toBeUndefined();
  expect(c.get('d2')?.key?.keyId).toBe('k2');
  expect(c.drop('a')).toBe(1);
  expect(c.get('d4')).toEqual({ key: undefined }); // a cached miss
  now += 2000;
  expect(c.get('d3')).toBeUndefined(); // grace over, though the TTL is not
  now += 300_000;
  expect(c.get('d4')).toBeUndefined();
  expect(new ApiKeyCache({ ttlS: 0 }).size).toBe(0);
});
