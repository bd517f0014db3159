import { z } from 'zod';
import { storable } from '../db/storable-text';
import { submitBodySchema } from '../inference/submit-schema';
import { BATCH_ITEM_STATES, BATCH_STATUSES } from './batch-types';

/** One item of POST /v1/batches, shaped after OpenAI's Batch API input lines. */
export const batchItemSchema = z
  .strictObject({
    custom_id: storable(z.string().min(1).max(128)).describe('your id of the item; unique in the batch'),
    method: z.literal('POST').optional(),
    url: z.literal('/v1/inference').optional(),
    body: submitBodySchema,
  })
  .meta({ id: 'BatchItem' });
export type BatchItemBody = z.infer<typeof batchItemSchema>;

/** GET /v1/batches query. */
export const batchListQuerySchema = z.strictObject({
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1).max(100))
    .default(20),
  after: storable(z.string().max(64)).optional().describe('id of the last batch of the previous page'),
});

export const batchIdParams = z.object({ id: z.string().regex(/^batch_[a-f0-9]{32}$/, 'not a batch id') });

/** The public shape of a batch. */
export const batchViewSchema = z
  .object({
    id: z.string(),
    object: z.literal('batch'),
    endpoint: z.literal('/v1/inference'),
    status: z.enum(BATCH_STATUSES),
    concurrency: z.number().int(),
    request_counts: z
      .record(z.enum(['total', ...BATCH_ITEM_STATES]), z.number().int())
      .optional()
      .describe('items by state; absent in lists'),
    total: z.number().int(),
    created_at: z.string(),
    in_progress_at: z.string().nullable(),
    cancelling_at: z.string().nullable(),
    completed_at: z.string().nullable(),
    results_url: z.string(),
  })
  .meta({ id: 'Batch' });

/** One line of the results (JSONL). */
export const batchResultLineSchema = z
  .object({
    custom_id: z.string(),
    id: z.string().describe('the item’s request id: GET /v1/inference/{id}'),
    status: z.enum(BATCH_ITEM_STATES),
    output: z.string().nullable(),
    usage: z
      .object({
        prompt_tokens: z.number().int(),
        completion_tokens: z.number().int(),
        total_tokens: z.number().int(),
      })
      .nullable(),
    error: z.object({ type: z.string(), message: z.string() }).nullable(),
  })
  .meta({ id: 'BatchResultLine' });
