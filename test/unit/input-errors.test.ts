import { toAppError } from '../../src/api/error-middleware';
import { HTTP_STATUS } from '../../src/errors/app-error';
import { LIMIT_MAX, limitsOverrideSchema, PG_INT4_MAX } from '../../src/tenants/limits';

test('a body over the limit is a 413 request_too_large naming the body, bad JSON a 400 naming it', () => {
  const big = toAppError({ type: 'entity.too.large', status: 413, limit: 1048576, length: 2000000 });
  expect(big).toMatchObject({ type: 'request_too_large', param: 'body' });
  expect(HTTP_STATUS[big.type]).toBe(413);
  expect(big.message).toBe('request body (2000000 bytes) is over the limit of 1048576 bytes');
  const bad = toAppError({
    type: 'entity.parse.failed',
    status: 400,
    message: 'Unexpected end of JSON input',
  });
  expect(bad).toMatchObject({ type: 'invalid_request_error', param: 'body' });
  expect(bad.message).toBe('request body is not valid JSON: Unexpected end of JSON input');
});

test('admin limits are bounded by their column types, with the field as the error path', () => {
  expect(LIMIT_MAX.requests_per_minute).toBe(2 ** 31 - 1);
  expect(limitsOverrideSchema.safeParse({ requests_per_minute: PG_INT4_MAX }).success).toBe(true);
  expect(limitsOverrideSchema.safeParse({ tokens_per_day: Number.MAX_SAFE_INTEGER }).success).toBe(true);
  for (const [field, value] of [
    ['requests_per_minute', PG_INT4_MAX + 1],
    ['requests_per_day', PG_INT4_MAX + 1],
    ['max_in_flight', PG_INT4_MAX + 1],
    ['tokens_per_day', Number.MAX_SAFE_INTEGER + 1],
    ['tokens_per_month', Infinity],
  ] as const) {
    const r = limitsOverrideSchema.safeParse({ [field]: value });
    expect({ field, ok: r.success }).toEqual({ field, ok: false });
    expect(toAppError(r.error)).toMatchObject({ type: 'invalid_request_error', param: field });
  }
});
