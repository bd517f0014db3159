import { AppError } from '../errors/app-error';
import { ErrorType } from '../shared/error-types';

// Why a byte scanner here rather than a library: what must be bounded is bytes per item (blank
// space included) and lines per body, checked before a line or element is assembled. split2 bounds
// characters after decoding and emits every blank line as an element; the streaming JSON parsers
// (stream-json, jsonparse) assemble a value of any size before handing it over. Only the element
// boundaries are found here; every item is still parsed by JSON.parse.

/** Bounds of {@link batchItems}: each is checked as the bytes arrive, before anything is buffered. */
export interface BatchStreamLimits {
  /** Bytes of the whole body (BATCH_MAX_BODY_BYTES); more is a 413. */
  maxBodyBytes: number;
  /** Bytes of one item, the separators and blank space before it included (BATCH_MAX_ITEM_BYTES). */
  maxItemBytes: number;
  /** Items of one batch (MAX_BATCH_ITEMS); for JSONL, lines, blank ones included. */
  maxItems: number;
}

/** The two body formats of POST /v1/batches. */
export type BatchFormat = 'json' | 'jsonl';

/** One raw item as it arrived: the parsed JSON and its size in the body. */
export interface RawItem {
  value: unknown;
  bytes: number;
}

const NL = 0x0a;
const invalid = (message: string, param: string): AppError =>
  new AppError(ErrorType.InvalidRequest, message, { param });

/** How {@link jsonlLines} names what it reads in its refusals. */
export interface JsonlNames {
  /** The whole body, e.g. `batch body`. @default 'batch body' */
  body: string;
  /** The `param` of a refusal about the n-th (0-based, blank lines excluded) line. @default items[n] */
  item: (n: number) => string;
  /** What `maxItems` counts, e.g. `a batch holds at most`. @default 'a batch holds at most' */
  holds: string;
  /** The `param` of a refusal about the body. @default 'body' */
  bodyParam: string;
  /** The `param` of a refusal about the number of lines. @default 'items' */
  linesParam: string;
}

const BATCH_NAMES: JsonlNames = {
  body: 'batch body',
  item: (n) => `items[${n}]`,
  holds: 'a batch holds at most',
  bodyParam: 'body',
  linesParam: 'items',
};

/** Counts the body's bytes as they arrive; past the limit, a 413 at once (nothing more is read). */
async function* bounded(
  source: AsyncIterable<Buffer>,
  maxBytes: number,
  names: JsonlNames = BATCH_NAMES,
): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of source) {
    total += chunk.length;
    if (total > maxBytes)
      throw new AppError(ErrorType.RequestTooLarge, `${names.body} is over the limit of ${maxBytes} bytes`, {
        param: names.bodyParam,
      });
    yield chunk;
  }
}

function parseItem(text: string, index: number, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalid(`items[${index}]: ${where} is not valid JSON`, `items[${index}]`);
  }
}

/** One non-blank line of a JSONL body, unparsed. */
export interface RawLine {
  /** The line, trimmed. */
  text: string;
  /** Its bytes in the body (blank space before it on the line included). */
  bytes: number;
  /** 0-based among the non-blank lines. */
  index: number;
  /** 1-based line number in the body, blank lines counted. */
  line: number;
}

/**
 * The lines of a JSONL body as they arrive, unparsed. Every line counts against `maxItems`, blank
 * ones too (a body of newlines is refused after `maxItems` of them, not split into millions of empty
 * strings); a line is never held past `maxItemBytes`; the body past `maxBodyBytes` is a 413.
 */
export async function* jsonlLines(
  source: AsyncIterable<Buffer>,
  limits: BatchStreamLimits,
  names: JsonlNames = BATCH_NAMES,
): AsyncGenerator<RawLine> {
  let parts: Buffer[] = [];
  let partBytes = 0;
  let lines = 0;
  let items = 0;
  const tooLong = (): AppError =>
    invalid(
      `${names.item(items)}: line ${lines + 1} is over ${limits.maxItemBytes} bytes`,
      names.item(items),
    );
  const endLine = (): RawLine | undefined => {
    const bytes = partBytes;
    const line = Buffer.concat(parts, partBytes);
    parts = [];
    partBytes = 0;
    lines++;
    if (lines > limits.maxItems)
      throw invalid(
        `${names.holds} ${limits.maxItems} lines (blank lines count), got more`,
        names.linesParam,
      );
    // Trimmed as JSON.parse would; a blank line (spaces, \r) is skipped but was counted above.
    const text = line.toString('utf8').trim();
    return text ? { text, bytes, index: items++, line: lines } : undefined;
  };
  for await (const chunk of bounded(source, limits.maxBodyBytes, names)) {
    let start = 0;
    for (let nl = chunk.indexOf(NL, start); ; nl = chunk.indexOf(NL, start)) {
      const end = nl === -1 ? chunk.length : nl;
      if (partBytes + end - start > limits.maxItemBytes) throw tooLong();
      if (end > start) {
        parts.push(chunk.subarray(start, end));
        partBytes += end - start;
      }
      if (nl === -1) break;
      const item = endLine();
      if (item !== undefined) yield item;
      start = nl + 1;
    }
  }
  if (partBytes > 0) {
    const item = endLine();
    if (item !== undefined) yield item;
  }
}

/** The items of a JSONL body, one per line, as the lines arrive (see {@link jsonlLines}). */
async function* jsonlItems(
  source: AsyncIterable<Buffer>,
  limits: BatchStreamLimits,
): AsyncGenerator<RawItem> {
  for await (const l of jsonlLines(source, limits))
    yield { value: parseItem(l.text, l.index, `line ${l.line}`), bytes: l.bytes };
}

// Bytes the JSON-array scanner cares about.
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const CLOSE_ARRAY = 0x5d;
const isOpen = (b: number): boolean => b === 0x5b || b === 0x7b; // [ {
const isClose = (b: number): boolean => b === CLOSE_ARRAY || b === 0x7d; // ] }
const isSpace = (b: number): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/**
 * The elements of a JSON array body, each parsed as soon as its closing byte arrives. A byte scanner
 * finds the top-level elements (tracking strings, escapes and nesting); each is parsed by JSON.parse,
 * so no JSON is interpreted by hand. Bytes between two elements (blank space, the element itself)
 * are bounded by `maxItemBytes`, and elements by `maxItems`.
 */
async function* jsonArrayItems(
  source: AsyncIterable<Buffer>,
  limits: BatchStreamLimits,
): AsyncGenerator<RawItem> {
  const notArray = (): AppError =>
    invalid(
      'send a JSON array of items (Content-Type: application/json) or JSONL (application/jsonl or application/x-ndjson)',
      'body',
    );
  let state = 'before' as 'before' | 'between' | 'element' | 'after';
  let depth = 0;
  let inString = false;
  let escaped = false;
  let parts: Buffer[] = [];
  let partBytes = 0;
  let spent = 0; // bytes since the previous element ended
  let items = 0;
  let expectElement = true;
  const badAt = (what: string): AppError => invalid(`items[${items}]: ${what}`, `items[${items}]`);
  for await (const chunk of bounded(source, limits.maxBodyBytes)) {
    let elementStart = state === 'element' ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (state !== 'after' && state !== 'before' && ++spent > limits.maxItemBytes)
        throw badAt(`item is over ${limits.maxItemBytes} bytes`);
      if (state === 'element') {
        if (inString) {
          if (escaped) escaped = false;
          else if (b === BACKSLASH) escaped = true;
          else if (b === QUOTE) inString = false;
          continue;
        }
        if (b === QUOTE) inString = true;
        else if (isOpen(b)) depth++;
        else if (depth > 0 && isClose(b)) depth--;
        else if (depth === 0 && (b === COMMA || isClose(b) || isSpace(b))) {
          parts.push(chunk.subarray(elementStart, i));
          const bytes = Buffer.concat(parts, partBytes + i - elementStart);
          parts = [];
          partBytes = 0;
          if (++items > limits.maxItems)
            throw invalid(`a batch holds at most ${limits.maxItems} items, got more`, 'items');
          yield { value: parseItem(bytes.toString('utf8'), items - 1, 'item'), bytes: bytes.length };
          state = 'between';
          spent = 0;
          expectElement = false;
          i--; // the separator is read again in state 'between'
        }
        continue;
      }
      if (isSpace(b)) continue;
      if (state === 'after') throw notArray();
      if (state === 'before') {
        if (b !== 0x5b) throw notArray(); // [
        state = 'between';
        continue;
      }
      // state 'between'
      if (b === CLOSE_ARRAY) {
        if (expectElement && items > 0) throw badAt('a comma is followed by no item');
        state = 'after';
        continue;
      }
      if (b === COMMA) {
        if (expectElement) throw badAt('missing item before a comma');
        expectElement = true;
        continue;
      }
      if (!expectElement) throw badAt('a comma is missing between items');
      state = 'element';
      elementStart = i;
      depth = isOpen(b) ? 1 : 0;
      inString = b === QUOTE;
      escaped = false;
    }
    if (state === 'element') {
      parts.push(chunk.subarray(elementStart));
      partBytes += chunk.length - elementStart;
    }
  }
  if (state !== 'after')
    throw state === 'before' ? notArray() : invalid('the JSON array is not closed', 'body');
}

/**
 * The raw items of a POST /v1/batches body as they arrive, in order: a JSON array or JSONL. Nothing
 * is buffered beyond the item being read: over a limit, the generator throws at once (413 for the
 * body, 400 naming `items` or `items[i]` otherwise), and the caller stops reading.
 */
export function batchItems(
  source: AsyncIterable<Buffer>,
  format: BatchFormat,
  limits: BatchStreamLimits,
): AsyncGenerator<RawItem> {
  return format === 'jsonl' ? jsonlItems(source, limits) : jsonArrayItems(source, limits);
}
