import { AppError } from '../errors/app-error';
import { paramOf } from '../api/error-middleware';
import { ErrorType } from '../shared/error-types';
import { batchItemSchema, type BatchItemBody } from './batch-schemas';
import { MAX_BATCH_ITEMS } from './batch-types';

/** Most item errors one 400 lists. */
export const MAX_LISTED_ERRORS = 10;

/** One item's problem: its field (`items[3].body.max_tokens`) and what is wrong. */
export interface ItemProblem {
  param: string;
  message: string;
}

/** The 400 of a batch with invalid items: names the first, lists up to {@link MAX_LISTED_ERRORS}. */
export function invalidItems(problems: ItemProblem[]): AppError {
  const listed = problems.slice(0, MAX_LISTED_ERRORS).map((p) => `${p.param}: ${p.message}`);
  const more = problems.length > listed.length ? `; and more` : '';
  return new AppError(
    ErrorType.InvalidRequest,
    `${problems.length > 1 ? `${problems.length}+ invalid items` : 'invalid item'} (nothing was stored): ${listed.join('; ')}${more}`,
    { param: problems[0]!.param },
  );
}

/** The raw items of a body: a JSON array, or JSONL text (one JSON object per line). */
export function rawItems(body: unknown): unknown[] {
  if (Array.isArray(body)) return body;
  if (typeof body !== 'string')
    throw new AppError(
      ErrorType.InvalidRequest,
      'send a JSON array of items (Content-Type: application/json) or JSONL (application/jsonl or application/x-ndjson)',
      { param: 'body' },
    );
  const out: unknown[] = [];
  const lines = body.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      throw new AppError(ErrorType.InvalidRequest, `items[${out.length}]: line ${i + 1} is not valid JSON`, {
        param: `items[${out.length}]`,
      });
    }
  }
  return out;
}

/** Validates every item's shape (no tokenization yet); throws one 400 listing the problems. */
export function parseItems(raw: unknown[]): BatchItemBody[] {
  if (raw.length === 0)
    throw new AppError(ErrorType.InvalidRequest, 'a batch needs at least one item', { param: 'items' });
  if (raw.length > MAX_BATCH_ITEMS)
    throw new AppError(
      ErrorType.InvalidRequest,
      `a batch holds at most ${MAX_BATCH_ITEMS} items, got ${raw.length}`,
      {
        param: 'items',
      },
    );
  const problems: ItemProblem[] = [];
  const items: BatchItemBody[] = [];
  const seen = new Map<string, number>();
  raw.forEach((x, i) => {
    if (problems.length >= MAX_LISTED_ERRORS) return;
    const r = batchItemSchema.safeParse(x);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      const keys = issue.code === 'unrecognized_keys' ? `.${issue.keys[0]}` : '';
      const inner = paramOf(issue.path);
      problems.push({
        param: `items[${i}]${inner ? `.${inner}` : ''}${keys}`.replace('.[', '['),
        message: issue.message,
      });
      return;
    }
    const dup = seen.get(r.data.custom_id);
    if (dup !== undefined)
      problems.push({ param: `items[${i}].custom_id`, message: `duplicate of items[${dup}].custom_id` });
    seen.set(r.data.custom_id, i);
    items.push(r.data);
  });
  if (problems.length) throw invalidItems(problems);
  return items;
}
