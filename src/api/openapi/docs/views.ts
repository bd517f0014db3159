import { z } from 'zod';
import { REQUEST_STATUSES } from '../../../shared/types';

/** Response shapes of the existing routes, for the document only (the routes build them by hand). */
const usage = z
  .object({
    prompt_tokens: z.number().int(),
    completion_tokens: z.number().int(),
    total_tokens: z.number().int(),
  })
  .meta({ id: 'Usage' });

const failure = z.object({ type: z.string(), message: z.string() });

/** `GET /v1/inference/:id`, and each item of the list. */
export const inferenceView = z
  .object({
    id: z.string().describe('request id, also the Temporal workflow id'),
    object: z.literal('inference'),
    status: z.enum(REQUEST_STATUSES),
    model: z.string(),
    output: z.string().optional(),
    finish_reason: z.string().nullable().optional(),
    stop_reason: z
      .enum(['quota_exhausted', 'reservation_closed'])
      .optional()
      .describe(
        'present when this service, not the model, stopped the generation: quota_exhausted = the tenant token limits refused the next reservation slice (finish_reason is then length)',
      ),
    usage: usage.optional(),
    error: failure.optional(),
    estimated_tokens: z
      .number()
      .int()
      .optional()
      .describe('tokens reserved: prompt + first slice at accept, growing slice by slice as tokens stream'),
    attempts: z.number().int(),
    last_error: z.string().optional(),
    created_at: z.string(),
    started_at: z.string().optional(),
    completed_at: z.string().optional(),
    queue: z
      .looseObject({ task_queue: z.string(), position: z.number().int(), eta_s: z.number().nullable() })
      .optional()
      .describe('only while waiting for a GPU: position, ETA and diagnosis'),
  })
  .meta({ id: 'Inference' });

/** The 202 of `POST /v1/inference`. */
export const acceptedView = z
  .object({
    id: z.string(),
    object: z.literal('inference'),
    status: z.literal('queued'),
    model: z.string(),
    estimated_tokens: z.number().int(),
    usage_estimate: z.object({ prompt_tokens: z.number().int(), max_tokens: z.number().int() }),
    created_at: z.string(),
  })
  .meta({ id: 'InferenceAccepted' });

export const cancellingView = z.object({
  id: z.string(),
  object: z.string(),
  status: z.literal('cancelling'),
});

export const listOf = (item: z.ZodType, cursor = true): z.ZodType =>
  z.object({
    object: z.literal('list'),
    data: z.array(item),
    ...(cursor ? { has_more: z.boolean(), next_cursor: z.string().nullable() } : {}),
  });

export const modelView = z
  .object({
    id: z.string(),
    object: z.literal('model'),
    created: z.number().int(),
    owned_by: z.string(),
    context_length: z.number().int(),
    protocol: z.string(),
  })
  .meta({ id: 'Model' });

const limits = z.record(z.string(), z.number().int());

export const quotaView = z.object({
  object: z.literal('quota'),
  tenant: z.string(),
  tier: z.string(),
  limits: z.record(
    z.string(),
    z.object({
      limit: z.number(),
      used: z.number(),
      reserved: z.number(),
      remaining: z.number(),
      resets_at: z.string(),
    }),
  ),
});

export const tenantLimitsView = z.object({ tenant: z.string(), tier: z.string(), limits });

export const usageView = z.object({
  object: z.literal('usage'),
  from: z.string(),
  to: z.string(),
  group_by: z.array(z.string()),
  data: z.array(z.looseObject({ requests: z.number().int(), total_tokens: z.number().int() })),
  total: z.looseObject({ requests: z.number().int(), total_tokens: z.number().int() }),
});

/** OpenAI's objects are documented by OpenAI; the document names their top-level shape only. */
export const openAiObject = (object: string): z.ZodType =>
  z.looseObject({ id: z.string(), object: z.literal(object), model: z.string() });

/** Admin API objects: open shapes, detailed in docs/admin.md. */
export const adminObject = (what: string): z.ZodType =>
  z.looseObject({}).describe(`${what}; see docs/admin.md`);

export const sseStream = z.string().describe('text/event-stream');
