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

export const requestIdSchema = z.string().regex(/^inf_[a-f0-9]{32}$/, 'not a request id');
