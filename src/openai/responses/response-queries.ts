import { z } from 'zod';

const wholeNumber = (max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(0).max(max));

/** Query of GET /v1/responses/:id: `stream=true` resumes the event stream after `starting_after`. */
export const retrieveQuery = z.object({
  stream: z.enum(['true', 'false']).optional(),
  starting_after: wholeNumber(1_000_000_000).optional(),
  // Sent by clients; nothing to include beyond the text output.
  include: z.union([z.string(), z.array(z.string())]).optional(),
  include_obfuscation: z.enum(['true', 'false']).optional(),
});

/** Query of GET /v1/responses/:id/input_items (OpenAI's list parameters). */
export const inputItemsQuery = z.object({
  limit: wholeNumber(100).pipe(z.number().min(1, 'must be 1 to 100')).default(20),
  order: z.enum(['asc', 'desc']).default('desc'),
  after: z.string().max(200).optional(),
  include: z.union([z.string(), z.array(z.string())]).optional(),
});
