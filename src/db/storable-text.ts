import type { z } from 'zod';

/**
 * Text PostgreSQL can store as given: no NUL (U+0000, which `text` refuses) and no unpaired
 * surrogate (which the driver would silently store as U+FFFD).
 */
// eslint-disable-next-line no-control-regex -- NUL is exactly what it refuses
export const STORABLE_TEXT = /^(?:[^\u0000\ud800-\udfff]|[\ud800-\udbff][\udc00-\udfff])*$/;
const STORABLE_TEXT_MESSAGE = 'must not contain NUL (U+0000) or unpaired surrogates';

/**
 * `schema` that also refuses what PostgreSQL cannot store ({@link STORABLE_TEXT}); every client
 * text field that reaches a `text` column goes through it. The check runs after the schema's own.
 */
export function storable(schema: z.ZodString): z.ZodString {
  return schema.regex(STORABLE_TEXT, STORABLE_TEXT_MESSAGE);
}
