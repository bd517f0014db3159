/** Helpers for the tests that prove a broken file is caught. */

/** `text` with `from` replaced by `to`; throws when `from` is absent, so a stale case cannot pass. */
export function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`fixture drift: ${JSON.stringify(from)} not found`);
  return text.replace(from, to);
}

/** A deep copy of `value` changed by `change` (the original stays as it was). */
export function changed<T>(value: T, change: (copy: T) => void): T {
  const copy = structuredClone(value);
  change(copy);
  return copy;
}
