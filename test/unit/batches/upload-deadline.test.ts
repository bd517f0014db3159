import { AppError } from '../../../src/errors/app-error';
import { withUploadDeadline } from '../../../src/batches/upload-deadline';

/** A body whose chunks arrive after the given pauses, ms. */
async function* trickle(pauses: number[]): AsyncGenerator<Buffer> {
  for (const ms of pauses) {
    await new Promise((r) => setTimeout(r, ms));
    yield Buffer.from('x');
  }
}

async function read(body: AsyncIterable<Buffer>): Promise<{ bytes: number; err?: AppError }> {
  let bytes = 0;
  try {
    for await (const c of body) bytes += c.length;
    return { bytes };
  } catch (err) {
    return { bytes, err: err as AppError };
  }
}

describe('withUploadDeadline', () => {
  test('a body that keeps coming within both bounds is passed through whole', async () => {
    const r = await read(withUploadDeadline(trickle([5, 5, 5, 5]), { totalMs: 1000, idleMs: 200 }));
    expect(r).toEqual({ bytes: 4 });
  });

  test('a pause longer than idleMs is a 408 naming the body, after the bytes before it', async () => {
    const r = await read(withUploadDeadline(trickle([5, 5, 300, 5]), { totalMs: 5000, idleMs: 100 }));
    expect(r.bytes).toBe(2);
    expect(r.err).toBeInstanceOf(AppError);
    expect(r.err).toMatchObject({ type: 'request_timeout', param: 'body' });
    expect(r.err!.message).toMatch(/no bytes of the batch body/);
  });

  test('a body trickled without long pauses still ends at totalMs', async () => {
    const started = Date.now();
    const r = await read(withUploadDeadline(trickle(Array(100).fill(40)), { totalMs: 300, idleMs: 100 }));
    expect(r.err).toMatchObject({ type: 'request_timeout' });
    expect(r.err!.message).toMatch(/not read within/);
    expect(r.bytes).toBeGreaterThan(2);
    expect(r.bytes).toBeLessThan(100);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test('the source is stopped when the deadline passes', async () => {
    let returned = false;
    const source: AsyncIterable<Buffer> = {
      [Symbol.asyncIterator]: () => ({
        next: () => new Promise<IteratorResult<Buffer>>(() => undefined),
        return: () => {
          returned = true;
          return Promise.resolve({ done: true, value: undefined });
        },
      }),
    };
    const r = await read(withUploadDeadline(source, { totalMs: 1000, idleMs: 50 }));
    expect(r.err).toMatchObject({ type: 'request_timeout' });
    expect(returned).toBe(true);
  });
});
