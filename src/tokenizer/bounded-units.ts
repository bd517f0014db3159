/**
 * Cutting text into units that a BPE library can count in bounded time.
 *
 * BPE merging is quadratic in the length of one pre-token piece (the pieces the split regex yields:
 * a word, a run of punctuation, a run of whitespace). Ordinary text has short pieces, but one long
 * unbroken "word" (`'a'.repeat(200_000)`, minified or encoded data) is a single piece: counting it
 * took seconds and held the event loop that whole time. Here every piece longer than
 * {@link MAX_PIECE_CHARS} is cut into slices of at most that length, each counted on its own, which
 * makes counting linear in the text length.
 *
 * Deviation: a cut through a long piece forces a token boundary that BPE might not have made, so the
 * count of such text is at most about one token higher per cut (≈ +1 token per 256 characters of an
 * over-long piece; measured under 1% on long random words, 0% on repeated characters). The text next
 * to an over-long piece may differ by a token as well. Text without pieces over the bound (ordinary
 * prose and code) is counted exactly: it is only cut where the split regex would cut anyway and the
 * cut cannot change the pieces on either side (after a piece ending in a non-space character).
 */

/** Longest pre-token piece handed to BPE, in UTF-16 code units. */
export const MAX_PIECE_CHARS = 256;

/** Ordinary text is handed to the library in units of about this many characters (so callers can yield between them). */
export const UNIT_CHARS = 2048;

/** Options of {@link boundedUnits}. */
export interface BoundedUnitsOptions {
  /** Longest piece handed to BPE. @default MAX_PIECE_CHARS */
  maxPieceChars?: number;
  /** Target length of a unit of ordinary text. @default UNIT_CHARS */
  unitChars?: number;
}

const SPACE = /\s/u;

const isLowSurrogate = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;

/**
 * Consecutive slices of `text` (they always tile it exactly) such that counting each slice with the
 * library costs O(slice length × maxPieceChars). `split` is the encoding's pre-token regex (global).
 */
export function* boundedUnits(
  text: string,
  split: RegExp,
  opts: BoundedUnitsOptions = {},
): Generator<string, void, undefined> {
  const maxPiece = opts.maxPieceChars ?? MAX_PIECE_CHARS;
  const unit = opts.unitChars ?? UNIT_CHARS;
  // No piece can be longer than the text: short text needs no pre-split pass.
  if (text.length <= maxPiece) {
    if (text) yield text;
    return;
  }
  let start = 0; // start of the pending unit of ordinary text
  // matchAll clones the regex, so concurrent (interleaved async) counts do not share lastIndex.
  for (const m of text.matchAll(split)) {
    const s = m.index;
    const e = s + m[0].length;
    if (e - s > maxPiece) {
      if (s > start) yield text.slice(start, s);
      for (let i = s; i < e;) {
        let j = Math.min(i + maxPiece, e);
        if (j < e && isLowSurrogate(text.charCodeAt(j))) j--; // never split a surrogate pair
        yield text.slice(i, j);
        i = j;
      }
      start = e;
    } else if (e - start >= unit && (!SPACE.test(text[e - 1]!) || e - start >= 2 * unit)) {
      // A cut after a non-space character leaves both sides' pieces unchanged (no lookahead or `$`
      // alternative can end there); only text of nothing but whitespace-ended pieces is cut anyway.
      yield text.slice(start, e);
      start = e;
    }
  }
  if (start < text.length) yield text.slice(start);
}
