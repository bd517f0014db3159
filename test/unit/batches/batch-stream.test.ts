import { AppError } from '../../../src/errors/app-error';
import { batchItems, type BatchFormat, type BatchStreamLimits } from '../../../src/batches/batch-stream';

const LIMITS: BatchStreamLimits = { maxBodyBytes: 1 << 20, maxItemBytes: 256, maxItems: 5 };

/** A body as chunks of `size` bytes, counting how many chunks the parser pulled. */
function chunked(body: string | Buffer, size = 7): { source: AsyncIterable<Buffer>; pulled: () => number } {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body);
  let pulled = 0;
  return {
    source: (async function* () {
      for (let i = 0; i < buf.length; i += size) {
        pulled++;
        yield buf.subarray(i, i + size);
      }
    })(),
    pulled: () => pulled,
  };
}

async function read(
  body: string | Buffer,
  format: BatchFormat,
  limits = LIMITS,
  size = 7,
): Promise<{ values: unknown[]; error?: AppError; pulled: number; chunks: number }> {
  const { source, pulled } = chunked(body, size);
  const values: unknown[] = [];
  try {
    for await (const item of batchItems(source, format, limits)) values.push(item.value);
    return { values, pulled: pulled(), chunks: Math.ceil(Buffer.byteLength(body) / size) };
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return { values, error: err, pulled: pulled(), chunks: Math.ceil(Buffer.byteLength(body) / size) };
  }
}

describe('JSONL', () => {
  test('items arrive one per line, across chunk boundaries, \\r\\n and a missing last newline alike', async () => {
    const r = await read('{"a":1}\r\n{"b":"x\\ny"}\n  \n{"c":[1,2]}', 'jsonl');
    expect(r.error).toBeUndefined();
    expect(r.values).toEqual([{ a: 1 }, { b: 'x\ny' }, { c: [1, 2] }]);
  });

  test('multi-byte UTF-8 split across chunks is kept whole', async () => {
    const r = await read('{"p":"héllo ✓ 𝄞"}\n', 'jsonl', LIMITS, 1);
    expect(r.values).toEqual([{ p: 'héllo ✓ 𝄞' }]);
  });

  test('a flood of blank lines is refused after maxItems lines, without reading the rest', async () => {
    const body = '\n'.repeat(100_000);
    const r = await read(body, 'jsonl', LIMITS, 64);
    expect(r.error).toMatchObject({ type: 'invalid_request_error', param: 'items' });
    expect(r.error!.message).toMatch(/at most 5 lines/);
    expect(r.pulled).toBe(1); // the first 64-byte chunk holds line 6
  });

  test('items past maxItems are refused as the extra one arrives', async () => {
    const body = Array.from({ length: 50 }, (_, i) => `{"i":${i}}`).join('\n');
    const r = await read(body, 'jsonl');
    expect(r.values).toHaveLength(5);
    expect(r.error).toMatchObject({ param: 'items' });
    expect(r.pulled).toBeLessThan(r.chunks / 5);
  });

  test('an over-long line is refused once it passes maxItemBytes, not at its end', async () => {
    const body = `{"i":0}\n{"p":"${'x'.repeat(100_000)}"}\n`;
    const r = await read(body, 'jsonl', LIMITS, 64);
    expect(r.values).toEqual([{ i: 0 }]);
    expect(r.error).toMatchObject({ type: 'invalid_request_error', param: 'items[1]' });
    expect(r.error!.message).toMatch(/line 2 is over 256 bytes/);
    expect(r.pulled).toBeLessThanOrEqual(6);
  });

  test('a line that is not JSON names its item and line', async () => {
    const r = await read('{"i":0}\n\n{oops\n', 'jsonl');
    expect(r.error).toMatchObject({ param: 'items[1]' });
    expect(r.error!.message).toMatch(/line 3 is not valid JSON/);
  });

  test('the body limit is a 413 as soon as it is passed', async () => {
    const r = await read(`${'{"i":0}\n'.repeat(4)}`.repeat(1000), 'jsonl', {
      ...LIMITS,
      maxBodyBytes: 20,
      maxItems: 1e6,
    });
    expect(r.error).toMatchObject({ type: 'request_too_large', param: 'body' });
    expect(r.pulled).toBe(3);
  });
});

describe('JSON array', () => {
  test('elements arrive as they close, with strings holding brackets, commas and escaped quotes', async () => {
    const body = ' [ {"a":"],[{\\"}"} ,\n{"b":[1,{"c":2}]}, "s", 3 ,null] \n';
    const r = await read(body, 'json');
    expect(r.error).toBeUndefined();
    expect(r.values).toEqual([{ a: '],[{"}' }, { b: [1, { c: 2 }] }, 's', 3, null]);
  });

  test('an empty array yields nothing', async () => {
    expect((await read('[]', 'json')).values).toEqual([]);
  });

  test.each([
    ['{"custom_id":"a"}', 'body'],
    ['[{"a":1}', 'body'],
    ['[{"a":1}] x', 'body'],
    ['[{"a":1},]', 'items[1]'],
    ['[{"a":1} {"b":2}]', 'items[1]'],
    ['[,{"a":1}]', 'items[0]'],
    ['[{"a":}]', 'items[0]'],
  ])('%s is a 400 naming %s', async (body, param) => {
    const r = await read(body, 'json');
    expect(r.error).toMatchObject({ type: 'invalid_request_error', param });
  });

  test('blank space between elements counts against maxItemBytes', async () => {
    const r = await read(`[{"a":1},${' '.repeat(100_000)}{"b":2}]`, 'json', LIMITS, 64);
    expect(r.values).toEqual([{ a: 1 }]);
    expect(r.error).toMatchObject({ param: 'items[1]' });
    expect(r.pulled).toBeLessThanOrEqual(6);
  });

  test('an element over maxItemBytes is refused before its end arrives', async () => {
    const r = await read(`[{"p":"${'x'.repeat(100_000)}"}]`, 'json', LIMITS, 64);
    expect(r.error).toMatchObject({ param: 'items[0]' });
    expect(r.error!.message).toMatch(/over 256 bytes/);
    expect(r.pulled).toBeLessThanOrEqual(6);
  });

  test('elements past maxItems are refused as the extra one closes', async () => {
    const body = `[${Array.from({ length: 1000 }, (_, i) => `{"i":${i}}`).join(',')}]`;
    const r = await read(body, 'json');
    expect(r.values).toHaveLength(5);
    expect(r.error).toMatchObject({ param: 'items' });
    expect(r.pulled).toBeLessThan(r.chunks / 50);
  });

  test('the body limit is a 413', async () => {
    const r = await read(`[${'1,'.repeat(100)}1]`, 'json', { ...LIMITS, maxBodyBytes: 50, maxItems: 1e6 });
    expect(r.error).toMatchObject({ type: 'request_too_large' });
  });
});
