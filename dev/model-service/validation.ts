import type { z } from 'zod';
import { InvalidRequestError } from './errors';

/** A zod path as OpenAI names a param: `messages[0].content`. */
export function paramOf(path: readonly PropertyKey[]): string | null {
  if (path.length === 0) return null;
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

/** Parses a request body, or throws InvalidRequestError naming the first field at fault. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new InvalidRequestError('The request body must be a JSON object.');
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const param = issue ? paramOf(issue.path) : null;
  if (!issue) throw new InvalidRequestError('Invalid request body.');
  const missing = issue.code === 'invalid_type' && /received undefined/.test(issue.message);
  throw new InvalidRequestError(
    missing ? `'${param}' is a required property.` : `Invalid '${param ?? 'body'}': ${issue.message}`,
    param,
  );
}
