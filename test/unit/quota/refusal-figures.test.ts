import { reservationRefOf } from '../../../src/quota/quota-store';
import { quotaExceededError, refusalFigures, type Refusal } from '../../../src/quota/refusal';

/**
 * The figures of a quota refusal are computed in one place: the API's 429 (reserve and the
 * pre-check) and the workflow's refusal on re-admit (admitRequest) tell a client the same numbers.
 */
const refusal = (over: Partial<Refusal> = {}): Refusal => ({
  limit: 'tokens_per_day',
  limitValue: 100,
  used: 60,
  reserved: 25,
  resetsAt: new Date(Date.now() + 30_500),
  ...over,
});

test('remaining is what is left under the limit, never negative', () => {
  expect(refusalFigures(refusal()).remaining).toBe(15);
  expect(refusalFigures(refusal({ used: 90, reserved: 40 })).remaining).toBe(0);
});

test('Retry-After is the whole seconds to the reset, at least 1', () => {
  const now = Date.parse('2026-12-07T18:00:00.000Z');
  expect(refusalFigures(refusal({ resetsAt: new Date(now + 30_500) }), now).retryAfterS).toBe(31);
  expect(refusalFigures(refusal({ resetsAt: new Date(now - 5_000) }), now).retryAfterS).toBe(1);
});

test('the 429 carries the same figures in its headers', () => {
  const r = refusal();
  const err = quotaExceededError(r, 40);
  expect(err.retryAfterS).toBe(refusalFigures(r).retryAfterS);
  expect(err.headers).toMatchObject({
    'X-RateLimit-Limit': '100',
    'X-RateLimit-Remaining': '15',
    'X-RateLimit-Limit-Name': 'tokens_per_day',
  });
  expect(err.message).toBe('tokens_per_day exceeded: limit 100, used 60, reserved 25, this request needs 40');
});

test("a request's reservation is keyed by its id and tenant and windowed at its acceptance", () => {
  expect(
    reservationRefOf({ requestId: 'inf_1', tenantId: 't1', acceptedAt: '2026-12-07T18:00:00.000Z' }),
  ).toEqual({ requestId: 'inf_1', tenantId: 't1', acceptedAt: new Date('2026-12-07T18:00:00.000Z') });
});
