import type { z } from 'zod';

/**
 * Bounds of the OpenAI-style parameters that are not the prompt. Each is carried in the request's
 * workflow input (Temporal history) and sent to the model server, so none may be unbounded; the
 * figures are OpenAI's where it documents one, tight enough where it does not (docs/api.md, Limits).
 */

/** Most `stop` sequences in one request (OpenAI's limit; vLLM has none). */
export const STOP_MAX_SEQUENCES = 4;
/** Longest `stop` sequence, characters. */
export const STOP_MAX_CHARS = 256;
/** Most UTF-8 bytes of all `stop` sequences together. */
export const STOP_MAX_TOTAL_BYTES = 1024;
/** Most `metadata` pairs (OpenAI's limit). */
export const METADATA_MAX_PAIRS = 16;
/** Longest `metadata` key, characters (OpenAI's limit). */
export const METADATA_MAX_KEY_CHARS = 64;
/** Longest `metadata` value, characters (OpenAI's limit). */
export const METADATA_MAX_VALUE_CHARS = 512;

/**
 * Checks `stop` (one string or a list) against the bounds above, naming `stop` or `stop[i]`. Stop
 * sequences are not counted toward the reservation: the model server matches them against the
 * output and never feeds them to the model, and OpenAI and vLLM charge nothing for them; bounded to
 * a kilobyte, they cost less than any prompt.
 */
export function checkStop(stop: string | string[], ctx: z.RefinementCtx): void {
  const list = typeof stop === 'string' ? [stop] : stop;
  const at = (i: number): PropertyKey[] => (typeof stop === 'string' ? [] : [i]);
  if (list.length > STOP_MAX_SEQUENCES) {
    ctx.addIssue({
      code: 'custom',
      message: `at most ${STOP_MAX_SEQUENCES} stop sequences (got ${list.length})`,
    });
    return;
  }
  let bytes = 0;
  list.forEach((s, i) => {
    if (s.length < 1 || s.length > STOP_MAX_CHARS) {
      ctx.addIssue({
        code: 'custom',
        path: at(i),
        message: `a stop sequence is 1 to ${STOP_MAX_CHARS} characters (got ${s.length})`,
      });
    }
    bytes += Buffer.byteLength(s, 'utf8');
  });
  if (bytes > STOP_MAX_TOTAL_BYTES) {
    ctx.addIssue({
      code: 'custom',
      message: `stop sequences total ${bytes} bytes; at most ${STOP_MAX_TOTAL_BYTES} (UTF-8)`,
    });
  }
}
