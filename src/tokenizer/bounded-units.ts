/**
 * Cutting text into units that a BPE library can count in bounded time, without holding the event
 * loop for more than one unit.
 *
 * Two costs grow faster than the text on one long unbroken "word" (`'a'.repeat(200_000)`, minified
 * or base64 data, a run of lone surrogates):
 * - BPE merging is quadratic in the length of one pre-token piece (the pieces the split regex yields:
 *   a word, a run of punctuation, a run of whitespace). Counting a 200 kB word took 28 s. Here every
 *   piece longer than {@link MAX_PIECE_CHARS} is cut into slices of at most that length.
 * - The split regex finds a piece in one synchronous step, however long the piece (50–80 ms for 1 MB
 *   of lone surrogates). Here the text is first cut into chunks of at most {@link CHUNK_CHARS} and
 *   the regex only ever runs over one chunk.
 *
 * Chunks end at a *safe cut* where one exists in the second half of the chunk: a position where the
 * split regex of both encodings (cl100k_base, o200k_base) always ends a piece and no alternative looks
 * past it — after a non-space before a plain space, after a letter before anything but a letter, a
 * combining mark or an apostrophe, after a digit before a non-digit. Counting chunk by chunk there is
 * exactly counting the whole text. Ordinary prose, code and CJK text always have such cuts.
 *
 * Deviation, only for text the model's tokenizer could not count in bounded time anyway: a cut
 * through an over-long piece, or a forced chunk end in 2048+ characters with no safe cut (one long
 * word, a long run of digits or symbols), forces a token boundary that BPE might not have made: at
 * most about one token more per cut (≈ +1 token per 256 characters of an over-long piece; measured
 * under 1% on long random words, 0% on repeated characters). The text next to an over-long piece may
 * differ by a token as well.
 */

/** Longest pre-token piece handed to BPE, in UTF-16 code units. */
export const MAX_PIECE_CHARS = 256;

/** Longest chunk the split regex runs over, in UTF-16 code units. */
export const CHUNK_CHARS = 4096;

/** Options of {@link boundedUnits}. */
export interface BoundedUnitsOptions {
  /** Longest piece handed to BPE. @default MAX_PIECE_CHARS */
  maxPieceChars?: number;
  /** Longest chunk the split regex runs over (at least 4 × maxPieceChars). @default CHUNK_CHARS */
  chunkChars?: number;
}

/**
 * Positions where both split regexes always end a piece and never look further (see the file
 * comment). Zero-width: the match index is the cut.
 */
const SAFE_CUT = /(?<=\S)(?= )|(?<=\p{L})(?![\p{L}\p{M}'])|(?<=\p{N})(?!\p{N})/gu;

const isHigh = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;
const isLow = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;

/** True if `i` falls between the two halves of a surrogate pair. */
const splitsPair = (text: string, i: number): boolean =>
  isLow(text.charCodeAt(i)) && isHigh(text.charCodeAt(i - 1));

/** End of the chunk starting at `start`: the first safe cut in its second half, else a forced cut. */
export function chunkEnd(text: string, start: number, chunk: number): number {
  const hard = start + chunk;
  if (hard >= text.length) return text.length;
  const lo = start + (chunk >> 1);
  // Two code units either side so the lookarounds see whole code points at lo and at hard.
  const base = lo - 2;
  for (const m of text.slice(base, hard + 2).matchAll(SAFE_CUT)) {
    const at = base + m.index;
    if (at > hard) break;
    if (at >= lo && !splitsPair(text, at)) return at;
  }
  return splitsPair(text, hard) ? hard - 1 : hard;
}

/** Slices of one chunk: ordinary text as it is, each over-long piece cut into maxPiece slices. */
function* chunkUnits(chunk: string, split: RegExp, maxPiece: number): Generator<string, void, undefined> {
  if (chunk.length <= maxPiece) {
    yield chunk;
    return;
  }
  let start = 0; // start of the pending ordinary text
  // matchAll clones the regex, so concurrent (interleaved async) counts do not share lastIndex.
  for (const m of chunk.matchAll(split)) {
    const s = m.index;
    const e = s + m[0].length;
    if (e - s <= maxPiece) continue;
    if (s > start) yield chunk.slice(start, s);
    for (let i = s; i < e;) {
      let j = Math.min(i + maxPiece, e);
      if (j < e && splitsPair(chunk, j)) j--;
      yield chunk.slice(i, j);
      i = j;
    }
    start = e;
  }
  if (start < chunk.length) yield chunk.slice(start);
}

/**
 * Consecutive slices of `text` (they always tile it exactly) such that counting each slice with the
 * library costs O(slice length × maxPieceChars) and no regex step scans more than chunkChars.
 * `split` is the encoding's pre-token regex (global).
 */
export function* boundedUnits(
  text: string,
  split: RegExp,
  opts: BoundedUnitsOptions = {},
): Generator<string, void, undefined> {
  const maxPiece = opts.maxPieceChars ?? MAX_PIECE_CHARS;
  const chunk = Math.max(opts.chunkChars ?? CHUNK_CHARS, 4 * maxPiece);
  for (let start = 0; start < text.length;) {
    const end = chunkEnd(text, start, chunk);
    yield* chunkUnits(text.slice(start, end), split, maxPiece);
    start = end;
  }
}
