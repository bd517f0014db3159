/** Position after the last request of a page, in the list's order (accepted_at DESC, id DESC). */
export interface ListPosition {
  /** accepted_at exactly as PostgreSQL holds it (microseconds, UTC): a JS Date would drop digits. */
  acceptedAt: string;
  id: string;
}

const AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const ID = /^inf_[a-f0-9]{32}$/;

/** The opaque cursor of a position: base64url JSON, which clients must not interpret. */
export function encodeCursor(p: ListPosition): string {
  return Buffer.from(JSON.stringify([p.acceptedAt, p.id])).toString('base64url');
}

/** The position of a cursor, or undefined when it is not one this API made. */
export function decodeCursor(cursor: string): ListPosition | undefined {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(v) || v.length !== 2) return undefined;
    const [acceptedAt, id] = v as unknown[];
    if (typeof acceptedAt !== 'string' || !AT.test(acceptedAt) || Number.isNaN(Date.parse(acceptedAt)))
      return undefined;
    if (typeof id !== 'string' || !ID.test(id)) return undefined;
    return { acceptedAt, id };
  } catch {
    return undefined;
  }
}
