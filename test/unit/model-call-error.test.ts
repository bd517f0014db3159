import { errorFromStatus, parseRetryAfter } from '../../src/models/model-call-error';
import { toApplicationFailure } from '../../activities/gpu-activities';

test.each([
  [429, 'model_overloaded', true],
  [503, 'model_overloaded', true],
  [500, 'model_unavailable', true],
  [502, 'model_unavailable', true],
  [408, 'model_timeout', true],
  [400, 'model_invalid_request', false],
  [422, 'model_invalid_request', false],
  [404, 'model_invalid_request', false],
])('HTTP %i is %s, retryable=%s', (status, type, retryable) => {
  const e = errorFromStatus(status, 'msg', null);
  expect(e.type).toBe(type);
  expect(e.retryable).toBe(retryable);
  const f = toApplicationFailure(e);
  expect(f.type).toBe(type);
  expect(f.nonRetryable).toBe(!retryable);
});

test('Retry-After in seconds or as a date becomes nextRetryDelay', () => {
  expect(parseRetryAfter('2')).toBe(2000);
  expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
  expect(parseRetryAfter('soon')).toBeUndefined();
  const f = toApplicationFailure(errorFromStatus(503, 'busy', '3'));
  expect(f.nextRetryDelay).toBe(3000);
});
