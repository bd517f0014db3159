import { z } from 'zod';
import { storable } from '../db/storable-text';
import { submitBodySchema } from '../inference/submit-schema';
import {
  METADATA_MAX_KEY_CHARS,
  METADATA_MAX_PAIRS,
  METADATA_MAX_VALUE_CHARS,
} from '../openai/openai-limits';
import { BATCH_FILE_ENDPOINTS } from './batch-endpoints';
import { BATCH_ITEM_STATES, BATCH_STATUSES } from './batch-types';

/** `file-` ids: uploaded files and batch output files. */
export const fileIdSchema = z.string().regex(/^file-[A-Za-z0-9_-]{1,80}$/, 'not a file id');

/** POST /v1/batches with a JSON object: OpenAI's create, on an uploaded file. */
export const createBatchBodySchema = z
  .strictObject({
    input_file_id: fileIdSchema.describe('a file uploaded with purpose `batch` (POST /v1/files)'),
    endpoint: z.enum(BATCH_FILE_ENDPOINTS).describe('the endpoint every line targets (its `url`)'),
    completion_window: z
      .literal('24h')
      .describe('only `24h` (OpenAI’s); BATCH_COMPLETION_WINDOW_S sets what it lasts here'),
    metadata: z
      .record(z.string().max(METADATA_MAX_KEY_CHARS), storable(z.string().max(METADATA_MAX_VALUE_CHARS)))
      .refine((m) => Object.keys(m).length <= METADATA_MAX_PAIRS, {
        message: `at most ${METADATA_MAX_PAIRS} metadata pairs`,
      })
      .nullish(),
  })
  .meta({ id: 'CreateBatchRequest' });
export type CreateBatchBody = z.infer<typeof createBatchBodySchema>;

/** One line of a batch input file (OpenAI's format); `body` is checked against `url`'s schema. */
export const batchLineSchema = z.strictObject({
  custom_id: storable(z.string().min(1).max(128)),
  method: z.literal('POST'),
  url: z.string().max(64),
  body: z.record(z.string(), z.unknown()),
});

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
    endpoint: z.enum(['/v1/inference', ...BATCH_FILE_ENDPOINTS]),
    status: z.enum(BATCH_STATUSES),
    input_file_id: z.string().nullable(),
    output_file_id: z.string().nullable().describe('JSONL of completed lines (GET /v1/files/{id}/content)'),
    error_file_id: z.string().nullable().describe('JSONL of failed, invalid, expired or cancelled lines'),
    completion_window: z.string().nullable(),
    metadata: z.record(z.string(), z.string()).nullable(),
    errors: z
      .object({
        object: z.literal('list'),
        data: z.array(
          z.object({
            code: z.string(),
            message: z.string(),
            line: z.number().int(),
            param: z.string().nullable(),
          }),
        ),
      })
      .nullable()
      .describe('the first invalid lines of the input file (all of them are in the error file)'),
    concurrency: z.number().int(),
    request_counts: z
      .record(z.enum(['total', ...BATCH_ITEM_STATES]), z.number().int())
      .optional()
      .describe(
        'lines by state: `total`, `completed`, `failed` (OpenAI’s: failed, rejected, invalid or not run) and, for inline batches, every item state; absent in inline lists',
      ),
    total: z.number().int(),
    created_at: z
      .union([z.string(), z.number().int()])
      .describe('ISO time (inline batches) or Unix seconds (batches from a file, as OpenAI)'),
    in_progress_at: z.union([z.string(), z.number().int()]).nullable(),
    cancelling_at: z.union([z.string(), z.number().int()]).nullable(),
    completed_at: z.union([z.string(), z.number().int()]).nullable(),
    expires_at: z.union([z.string(), z.number().int()]).nullable(),
    finalizing_at: z.union([z.string(), z.number().int()]).nullable(),
    failed_at: z.union([z.string(), z.number().int()]).nullable(),
    expired_at: z.union([z.string(), z.number().int()]).nullable(),
    cancelled_at: z.union([z.string(), z.number().int()]).nullable(),
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
