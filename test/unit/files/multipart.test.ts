import { boundaryOf, multipartParts, type MultipartPart } from '../../../src/files/multipart';

const B = 'XyZ-boundary';
const limits = { maxFieldBytes: 64, maxParts: 4, maxHeaderBytes: 1024 };

const body = (fileBytes: string): string =>
  `--${B}\r\nContent-Disposition: form-data; name="file"; filename="a \\"b\\".jsonl"\r\n` +
  `Content-Type: application/jsonl\r\n\r\n${fileBytes}\r\n` +
  `--${B}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--${B}--\r\n`;

/** `text` as chunks of `size` bytes: every split point is tried by the callers. */
async function* chunks(text: string, size: number): AsyncGenerator<Buffer> {
  const buf = Buffer.from(text);
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function read(src: AsyncIterable<Buffer>): Promise<{ parts: MultipartPart[]; file: string }> {
  const parts: MultipartPart[] = [];
  let file = '';
  for await (const p of multipartParts(src, B, limits)) {
    parts.push(p);
    if (p.kind === 'file') for await (const b of p.body) file += b.toString('utf8');
  }
  return { parts, file };
}

test('boundaryOf reads quoted and bare boundaries of multipart/form-data only', () => {
  expect(boundaryOf(`multipart/form-data; boundary=${B}`)).toBe(B);
  expect(boundaryOf(`multipart/form-data; charset=utf-8; boundary="${B}"`)).toBe(B);
  expect(boundaryOf('application/json')).toBeUndefined();
  expect(boundaryOf('multipart/form-data')).toBeUndefined();
});

test.each([1, 2, 3, 7, 16, 1000])('fields and the file part, whatever the chunk size (%i)', async (size) => {
  // The file holds things that look like the boundary without being it.
  const fileBytes = `{"a":1}\n--${B}x\r\n-${B}\n\r\n--XyZ\n{"b":2}\n`;
  const { parts, file } = await read(chunks(body(fileBytes), size));
  expect(file).toBe(fileBytes);
  expect(parts.map((p) => [p.kind, p.name])).toEqual([
    ['file', 'file'],
    ['field', 'purpose'],
  ]);
  expect(parts[0]).toMatchObject({ filename: 'a "b".jsonl', contentType: 'application/jsonl' });
  expect(parts[1]).toMatchObject({ value: 'batch' });
});

test('bounds and malformed bodies are 400s naming the body', async () => {
  const big = `--${B}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n${'x'.repeat(100)}\r\n--${B}--`;
  await expect(read(chunks(big, 10))).rejects.toMatchObject({ type: 'invalid_request_error', param: 'body' });
  const noEnd = `--${B}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\nabc`;
  await expect(read(chunks(noEnd, 4))).rejects.toThrow(/ends inside the file part/);
  const many =
    Array.from(
      { length: 5 },
      (_, i) => `--${B}\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\nv\r\n`,
    ).join('') + `--${B}--`;
  await expect(read(chunks(many, 8))).rejects.toThrow(/at most 4 parts/);
  const noDisposition = `--${B}\r\nX-Other: 1\r\n\r\nv\r\n--${B}--`;
  await expect(read(chunks(noDisposition, 8))).rejects.toThrow(/Content-Disposition/);
  await expect(read(chunks('no boundary anywhere '.repeat(100), 16))).rejects.toThrow(/preamble/);
});

test('a file part the caller does not read is skipped to the next part', async () => {
  const seen: string[] = [];
  for await (const p of multipartParts(chunks(body('{"x":1}\n'.repeat(50)), 5), B, limits))
    seen.push(p.kind === 'field' ? `${p.name}=${p.value}` : p.name);
  expect(seen).toEqual(['file', 'purpose=batch']);
});
