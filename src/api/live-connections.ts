import type { Request } from 'express';
import { AppError } from '../errors/app-error';
import type { Logger } from '../observability/logger';
import { ErrorType } from '../shared/error-types';
import type { AuthMetrics } from './auth-metrics';

/** Why an open stream or wait was ended by the API. */
export type EndReason = 'key_revoked' | 'tenant_disabled' | 'key_expired';

/** The error an ended stream or wait reports (its `error` event, or the wait's answer). */
export function endError(reason: EndReason): AppError {
  return reason === 'tenant_disabled'
    ? new AppError(ErrorType.PermissionDenied, 'tenant is disabled')
    : new AppError(
        ErrorType.Authentication,
        reason === 'key_revoked' ? 'API key revoked' : 'API key expired (rotated; its grace period ended)',
      );
}

interface Conn {
  tenantId: string;
  keyId: string;
  kind: string;
  ac: AbortController;
  timer?: NodeJS.Timeout;
}

/** A stream or wait held open: `signal` aborts (reason: an AppError) when its access ends. */
export interface Held {
  signal: AbortSignal;
  release: () => void;
}

/** Longest timer Node keeps (about 24.8 days); later ends are left to a revocation. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The streams and waits open on this replica, by tenant and key, so a revocation or a tenant
 * disable (key-invalidation.ts, on every replica) ends them at once, and a rotated key's end of
 * grace ends those it authenticated.
 */
export class LiveConnections {
  private readonly byTenant = new Map<string, Set<Conn>>();

  constructor(private readonly deps: { metrics: AuthMetrics; logger: Logger }) {}

  /** Registers the request's stream or wait (`kind`: sse, openai_stream, wait); release it when done. */
  hold(req: Request, kind: string): Held {
    const tenantId = req.tenant?.id ?? '';
    const c: Conn = { tenantId, keyId: req.apiKey?.id ?? '', kind, ac: new AbortController() };
    let set = this.byTenant.get(tenantId);
    if (!set) this.byTenant.set(tenantId, (set = new Set()));
    set.add(c);
    const expires = req.apiKey?.expiresAt?.getTime();
    if (expires !== undefined) this.endAt(c, expires);
    return { signal: c.ac.signal, release: () => this.forget(c) };
  }

  private endAt(c: Conn, at: number): void {
    const ms = Math.max(0, at - Date.now());
    if (ms > MAX_TIMER_MS) return;
    clearTimeout(c.timer);
    c.timer = setTimeout(() => this.close(c, 'key_expired'), ms);
    c.timer.unref();
  }

  /** The key was rotated with a grace period: its open streams and waits end at `at` (ms). */
  expireAt(tenantId: string, keyId: string, at: number): void {
    for (const c of this.byTenant.get(tenantId) ?? []) if (c.keyId === keyId) this.endAt(c, at);
  }

  private forget(c: Conn): void {
    clearTimeout(c.timer);
    const set = this.byTenant.get(c.tenantId);
    set?.delete(c);
    if (set?.size === 0) this.byTenant.delete(c.tenantId);
  }

  private close(c: Conn, reason: EndReason): void {
    this.forget(c);
    if (c.ac.signal.aborted) return;
    this.deps.metrics.connectionsClosed.inc({ kind: c.kind, reason });
    c.ac.abort(endError(reason));
  }

  /**
   * Ends the open streams and waits of the tenant (`tenant_disabled`) or of one of its keys
   * (`key_revoked`); returns how many, and logs one line when any.
   */
  end(tenantId: string, keyId: string | undefined, reason: EndReason): number {
    const set = this.byTenant.get(tenantId);
    if (!set) return 0;
    const ended = [...set].filter((c) => keyId === undefined || c.keyId === keyId);
    for (const c of ended) this.close(c, reason);
    if (ended.length)
      this.deps.logger.info(
        { tenant: tenantId, key: keyId, reason, connections: ended.length },
        'open streams and waits ended by revocation',
      );
    return ended.length;
  }

  /** Streams and waits open. */
  get size(): number {
    let n = 0;
    for (const s of this.byTenant.values()) n += s.size;
    return n;
  }
}

const NEVER: Held = { signal: new AbortController().signal, release: () => undefined };

/** The request's stream or wait held in `live`, or one that never ends when there is none. */
export function holdIn(live: LiveConnections | undefined, req: Request, kind: string): Held {
  return live ? live.hold(req, kind) : NEVER;
}

/** The `{ error }` body of a stream ended by {@link LiveConnections}. */
export function endedBody(signal: AbortSignal): { error: { type: string; message: string } } {
  const e = signal.reason instanceof AppError ? signal.reason : endError('key_revoked');
  return { error: { type: e.type, message: e.message } };
}
