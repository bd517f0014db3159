import { z } from 'zod';
import { AppError } from '../../src/errors/app-error';
import { toAppError } from '../../src/api/error-middleware';
import { paramOf } from '../../src/errors/param-of';

test('zod paths become API params', () => {
  expect(paramOf(['messages', 0, 'content'])).toBe('messages[0].content');
  expect(paramOf(['model'])).toBe('model');
  expect(paramOf([])).toBeUndefined();
});

test('zod errors become invalid_request_error with the param', () => {
  const r = z.strictObject({ max_tokens: z.number() }).safeParse({ max_tokens: 'x' });
  const e = toAppError(r.error);
  expect(e.type).toBe('invalid_request_error');
  expect(e.param).toBe('max_tokens');
});

test('unknown errors become internal errors without their message', () => {
  const e = toAppError(new Error('password=secret'));
  expect(e.type).toBe('internal_error');
  expect(e.message).toBe('internal error');
  expect(toAppError(new AppError('not_found_error', 'x'))).toMatchObject({ type: 'not_found_error' });
  expect(toAppError({ type: 'entity.parse.failed' }).type).toBe('invalid_request_error');
});

test('a backing service that is down is 503 with Retry-After, not 500', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
  expect(toAppError(refused)).toMatchObject({ type: 'service_unavailable', retryAfterS: 1 });
  expect(toAppError(Object.assign(new Error('x'), { name: 'MaxRetriesPerRequestError' })).type).toBe(
    'service_unavailable',
  );
  expect(toAppError(new Error('Connection terminated unexpectedly')).type).toBe('service_unavailable');
  expect(toAppError(new TypeError('x is undefined')).type).toBe('internal_error');
});

test("a character PostgreSQL cannot store (NUL) is the client's 400, not a 500", () => {
  const pgNul = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), {
    code: '22021',
  });
  expect(toAppError(pgNul)).toMatchObject({ type: 'invalid_request_error' });
  expect(toAppError(Object.assign(new Error('x'), { code: '22P05' })).type).toBe('invalid_request_error');
});
