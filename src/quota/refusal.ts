import { AppError } from '../errors/app-error';
import { ErrorType } from '../shared/error-types';
import type { LimitName } from '../tenants/limits';
import { bucketsFor } from './windows';

/** A limit that refuses a request, with the figures for the 429 (reserve and headroom alike). */
export interface QuotaRefusal {
  outcome: 'refused';
  limit: LimitName;
  limitValue: number;
  used: number;
  reserved: number;
  resetsAt: Date;
}

/** The figures of a refusal, without its outcome tag: what a 429 and a workflow's refusal report. */
export type Refusal = Omit<QuotaRefusal, 'outcome'>;

/** What a refused client is told: the room left under the limit and how long to wait for more. */
export interface RefusalFigures {
  /** Tokens (or requests) still free under the limit: never negative. */
  remaining: number;
  /** Seconds until the limit's window resets (at least 1): the `Retry-After`. */
  retryAfterS: number;
}

/** {@link RefusalFigures} of a refusal at `now`: the one place the 429's numbers are computed. */
export function refusalFigures(r: Refusal, now: number = Date.now()): RefusalFigures {
  return {
    remaining: Math.max(0, r.limitValue - r.used - r.reserved),
    retryAfterS: Math.max(1, Math.ceil((r.resetsAt.getTime() - now) / 1000)),
  };
}

/**
 * The refusal a quota script answered (`refused, limit, limitValue, used, reserved`): windows are
 * anchored at `windowsAt`; the in-flight limit frees up as soon as a request ends (`now` + 1 s).
 */
export function refusalFrom(reply: (string | number)[], windowsAt: Date, now: Date): QuotaRefusal {
  const limit = String(reply[1]) as LimitName;
  const b = bucketsFor(windowsAt);
  const resetsAt: Record<LimitName, Date> = {
    max_in_flight: new Date(now.getTime() + 1000),
    requests_per_minute: b.minute.resetsAt,
    requests_per_day: b.day.resetsAt,
    tokens_per_day: b.day.resetsAt,
    tokens_per_month: b.month.resetsAt,
  };
  return {
    outcome: 'refused',
    limit,
    limitValue: Number(reply[2]),
    used: Number(reply[3]),
    reserved: Number(reply[4]),
    resetsAt: resetsAt[limit],
  };
}

/**
 * The 429 of a refused quota check (reserve or headroom), with Retry-After and X-RateLimit-*
 * headers; `needs` is the request's tokens (or its lower bound, or a batch's total).
 */
export function quotaExceededError(r: Refusal, needs: number | string, what = 'this request'): AppError {
  const { remaining, retryAfterS } = refusalFigures(r);
  return new AppError(
    ErrorType.QuotaExceeded,
    `${r.limit} exceeded: limit ${r.limitValue}, used ${r.used}, reserved ${r.reserved}, ${what} needs ${r.limit.startsWith('tokens') ? needs : 1}`,
    {
      retryAfterS,
      param: r.limit,
      headers: {
        'X-RateLimit-Limit': String(r.limitValue),
        'X-RateLimit-Remaining': String(remaining),
        'X-RateLimit-Reset': String(Math.ceil(r.resetsAt.getTime() / 1000)),
        'X-RateLimit-Limit-Name': r.limit,
      },
    },
  );
}
