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
