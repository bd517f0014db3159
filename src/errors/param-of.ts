/** Path of a zod issue as an API param: `messages[0].content`. */
export function paramOf(path: readonly PropertyKey[]): string | undefined {
  if (!path.length) return undefined;
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}
