import { z } from 'zod';
import { storable } from '../db/storable-text';
import { FILE_PURPOSES } from './file-types';

export const fileIdParams = z.object({
  id: z.string().regex(/^file-[A-Za-z0-9_-]{1,80}$/, 'not a file id'),
});

/** GET /v1/files query (OpenAI's: purpose, limit, after, order). */
export const fileListQuerySchema = z.strictObject({
  purpose: z.enum(FILE_PURPOSES).optional(),
  limit: z
    .string()
    .regex(/^\d{1,5}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1).max(10_000))
    .default(10_000),
  after: storable(z.string().max(96)).optional().describe('id of the last file of the previous page'),
  order: z.literal('desc').optional().describe('newest first (the only order)'),
});

/** OpenAI's File object. */
export const fileViewSchema = z
  .object({
    id: z.string(),
    object: z.literal('file'),
    bytes: z.number().int(),
    created_at: z.number().int().describe('Unix seconds'),
    filename: z.string(),
    purpose: z.enum(FILE_PURPOSES),
    status: z.literal('processed'),
    expires_at: z.null(),
    status_details: z.null(),
  })
  .meta({ id: 'File' });

/** The multipart body of POST /v1/files. */
export const fileUploadSchema = z
  .object({
    purpose: z.literal('batch'),
    file: z.string().describe('the JSONL file, one batch request per line (binary part)'),
  })
  .meta({ id: 'FileUpload' });
