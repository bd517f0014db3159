import { AppError } from '../errors/app-error';
import { paramOf } from '../errors/param-of';
import { ErrorType } from '../shared/error-types';
import { batchItemSchema, type BatchItemBody } from './batch-schemas';

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

/**
 * Checks one item's shape (no tokenization yet) and its custom_id against those `seen` before it
 * (which it joins): the item, or its problem naming `items[i].<field>`.
 */
export function checkItem(
  x: unknown,
  i: number,
  seen: Map<string, number>,
): { item: BatchItemBody } | { problem: ItemProblem } {
  const r = batchItemSchema.safeParse(x);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const keys = issue.code === 'unrecognized_keys' ? `.${issue.keys[0]}` : '';
    const inner = paramOf(issue.path);
    return {
      problem: {
        param: `items[${i}]${inner ? `.${inner}` : ''}${keys}`.replace('.[', '['),
        message: issue.message,
      },
    };
  }
  const dup = seen.get(r.data.custom_id);
  if (dup !== undefined)
    return { problem: { param: `items[${i}].custom_id`, message: `duplicate of items[${dup}].custom_id` } };
  seen.set(r.data.custom_id, i);
  return { item: r.data };
}
