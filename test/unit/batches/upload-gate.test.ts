import type { AppError } from '../../../src/errors/app-error';
import { UploadGate } from '../../../src/batches/upload-gate';

const refusal = (fn: () => unknown): AppError | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err as AppError;
  }
};

test('a tenant past its share gets a 429 with Retry-After; the process past its total a 503', () => {
  const gate = new UploadGate({ maxUploads: 3, maxPerTenant: 2, retryAfterS: 2 });
  const a1 = gate.acquire('a');
  gate.acquire('a');
  expect(refusal(() => gate.acquire('a'))).toMatchObject({ type: 'rate_limit_error', retryAfterS: 2 });
  gate.acquire('b');
  expect(gate.active).toBe(3);
  expect(refusal(() => gate.acquire('c'))).toMatchObject({ type: 'service_unavailable', retryAfterS: 2 });
  a1();
  a1(); // a second release frees nothing more
  expect(gate.active).toBe(2);
  expect(refusal(() => gate.acquire('c'))).toBeUndefined();
  expect(refusal(() => gate.acquire('a'))).toMatchObject({ type: 'service_unavailable' });
});
