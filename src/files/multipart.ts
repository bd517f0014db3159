import { AppError } from '../errors/app-error';
import { ErrorType } from '../shared/error-types';

// Why a reader here rather than a library: no multipart parser (busboy, multer, formidable) is in
// the project's dependencies, and POST /v1/files needs little: a few small text fields and one file
// part whose bytes are handed on as they arrive (never buffered whole). This reads RFC 7578
// multipart/form-data for that case only: no nested multipart, no Content-Transfer-Encoding.

/** Bounds of {@link multipartParts}, each checked before more is buffered. */
export interface MultipartLimits {
  /** Bytes of one text field's value. */
  maxFieldBytes: number;
  /** Parts (fields and files) of one body. */
  maxParts: number;
  /** Bytes of one part's header block, and of the preamble before the first boundary. */
  maxHeaderBytes: number;
}

/** A text field, or the file part, whose `body` must be read to its end before the next part comes. */
export type MultipartPart =
  | { kind: 'field'; name: string; value: string }
  | { kind: 'file'; name: string; filename: string; contentType?: string; body: AsyncIterable<Buffer> };

const CRLF = Buffer.from('\r\n');
const HEADERS_END = Buffer.from('\r\n\r\n');
const bad = (message: string): AppError => new AppError(ErrorType.InvalidRequest, message, { param: 'body' });

/** The boundary of a `multipart/form-data` Content-Type, or undefined. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data\s*;/i.test(contentType)) return undefined;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return m?.[1] ?? m?.[2];
}

/** Reads a byte source through a buffer of what is not consumed yet. */
class Bytes {
  buf: Buffer = Buffer.alloc(0);
  private ended = false;
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  /** Reads more; false at the end of the source. */
  async more(): Promise<boolean> {
    if (this.ended) return false;
    const n = await this.it.next();
    if (n.done) {
      this.ended = true;
      return false;
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, n.value]) : n.value;
    return true;
  }

  /** The bytes before `delim` (consumed with it); over `max` bytes without it, throws. */
  async until(delim: Buffer, max: number, what: string): Promise<Buffer> {
    for (;;) {
      const at = this.buf.indexOf(delim);
      if (at !== -1) {
        const out = this.buf.subarray(0, at);
        this.buf = this.buf.subarray(at + delim.length);
        return out;
      }
      if (this.buf.length > max + delim.length) throw bad(`multipart ${what} is over ${max} bytes`);
      if (!(await this.more())) throw bad(`multipart body ends inside ${what}`);
    }
  }

  /** Bytes up to `delim` as they arrive (holding back at most delim.length - 1); consumes the delim. */
  async *stream(delim: Buffer): AsyncGenerator<Buffer> {
    for (;;) {
      const at = this.buf.indexOf(delim);
      if (at !== -1) {
        if (at > 0) yield this.buf.subarray(0, at);
        this.buf = this.buf.subarray(at + delim.length);
        return;
      }
      const keep = delim.length - 1;
      if (this.buf.length > keep) {
        const out = this.buf.subarray(0, this.buf.length - keep);
        this.buf = this.buf.subarray(this.buf.length - keep);
        yield out;
      }
      if (!(await this.more())) throw bad('multipart body ends inside the file part');
    }
  }

  async take(n: number): Promise<Buffer> {
    while (this.buf.length < n) if (!(await this.more())) throw bad('multipart body ends early');
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
}

/** A header's parameter (`name="file"`), with the quoted form's `\"` unescaped. */
function param(header: string, key: string): string | undefined {
  const m = new RegExp(`(?:^|;)\\s*${key}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, 'i').exec(header);
  if (!m) return undefined;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
}

/**
 * The parts of a multipart/form-data body as they arrive. A field is read whole (bounded by
 * `maxFieldBytes`); a file part's bytes are streamed through `body`, which the caller reads to its
 * end before asking for the next part. Anything malformed or over a bound is a 400.
 */
export async function* multipartParts(
  source: AsyncIterable<Buffer>,
  boundary: string,
  limits: MultipartLimits,
): AsyncGenerator<MultipartPart> {
  const r = new Bytes(source[Symbol.asyncIterator]());
  // The first boundary has no CRLF before it; reading from a virtual CRLF makes every one alike.
  r.buf = Buffer.from(CRLF);
  const delim = Buffer.from(`\r\n--${boundary}`);
  await r.until(delim, limits.maxHeaderBytes, 'preamble');
  for (let parts = 0; ; parts++) {
    const after = await r.take(2);
    if (after.toString('latin1') === '--') return; // the closing boundary; the epilogue is ignored
    if (!after.equals(CRLF)) throw bad('malformed multipart boundary line');
    if (parts >= limits.maxParts) throw bad(`a multipart body holds at most ${limits.maxParts} parts`);
    const head = (await r.until(HEADERS_END, limits.maxHeaderBytes, 'part headers')).toString('utf8');
    const headers = new Map<string, string>();
    for (const line of head.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const disposition = headers.get('content-disposition');
    if (!disposition || !/^form-data\b/i.test(disposition))
      throw bad('each multipart part needs Content-Disposition: form-data');
    const name = param(disposition, 'name') ?? '';
    const filename = param(disposition, 'filename');
    if (filename === undefined) {
      const value = await r.until(delim, limits.maxFieldBytes, `field ${name}`);
      yield { kind: 'field', name, value: value.toString('utf8') };
      continue;
    }
    let done = false;
    const body = r.stream(delim);
    const contentType = headers.get('content-type');
    yield {
      kind: 'file',
      name,
      filename,
      ...(contentType ? { contentType } : {}),
      body: (async function* () {
        for await (const b of body) yield b;
        done = true;
      })(),
    };
    if (!done) for await (const _ of body) void _; // a part the caller skipped: read past it
  }
}
