import { z } from 'zod';
import { ErrorType } from '../../shared/error-types';

/** The one error body every route answers with: `{ error: { type, message, param? } }`. */
export const errorBodySchema = z
  .strictObject({
    error: z.strictObject({
      type: z.enum(Object.values(ErrorType)).describe('stable machine-readable type'),
      message: z.string().describe('human-readable; may change'),
      param: z.string().optional().describe('the request field at fault, e.g. `messages[0].content`'),
    }),
  })
  .meta({ id: 'Error' });

/** What each error status means, for the document's shared responses. */
export const ERROR_STATUS_TEXT: Record<number, string> = {
  400: 'Invalid request (`invalid_request_error`); `param` names the field',
  401: 'Missing, wrong or revoked key (`authentication_error`)',
  403: 'Tenant disabled (`permission_error`)',
  404: 'Not found (`not_found_error`), or another tenant’s',
  408: 'The body did not arrive in time (`request_timeout`: an upload over its time limit or paused too long)',
  409: 'Conflict with the resource’s state (`conflict_error`)',
  413: 'Body over the size limit (`request_too_large`)',
  422: 'Idempotency-Key reused with a different body (`idempotency_key_reused`)',
  429: 'Quota exceeded (`quota_exceeded`; `Retry-After` and `X-RateLimit-*` headers), or too many failed authentications from this address (`rate_limit_error`; `Retry-After`)',
  500: 'Unexpected (`internal_error`); details only in the server logs',
  502: 'The model service failed (`model_unavailable`, `model_bad_response`)',
  503: 'A backing service is unavailable (`service_unavailable`); `Retry-After`',
  504: 'The model did not answer in time (`model_timeout`)',
};
