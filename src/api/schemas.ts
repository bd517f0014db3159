import { z } from 'zod';
import { webhookEventsSchema } from '../webhooks/webhook-events';

const message = z.strictObject({
  role: z.enum(['system', 'user', 'assistant', 'tool']),
  content: z.string().max(1_000_000),
});

/** Body of POST /v1/inference. */
export const submitBodySchema = z
  .strictObject({
    model: z.string().min(1).max(128),
    prompt: z.string().min(1).max(1_000_000).optional(),
    messages: z.array(message).min(1).max(1000).optional(),
    max_tokens: z.number().int().positive().max(1_000_000).optional(),
    temperature: z.number().min(0).max(2).optional(),
    /** http(s) URL told when the request ends (docs/api.md, Webhooks). */
    webhook_url: z.string().min(1).max(2048).optional(),
    /** Events sent to webhook_url. @default every terminal status */
    webhook_events: webhookEventsSchema.optional(),
  })
  .superRefine((b, ctx) => {
    if (b.prompt === undefined && b.messages === undefined) {
      ctx.addIssue({ code: 'custom', path: ['prompt'], message: 'give either prompt or messages' });
    }
    if (b.prompt !== undefined && b.messages !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['messages'], message: 'give prompt or messages, not both' });
    }
  });
export type SubmitBody = z.infer<typeof submitBodySchema>;

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

export const requestIdSchema = z.string().regex(/^inf_[a-f0-9]{32}$/, 'not a request id');
export const tenantIdSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'not a tenant id');
