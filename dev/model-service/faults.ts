import { InvalidRequestError } from './errors';
import { NO_FAULTS, type Fault, type FaultRates, type FaultsBody, type ScriptEntry } from './fault-schema';

/** Where a served fault came from. */
export type FaultSource = 'header' | 'script' | 'rate';

/** What `GET /_faults` shows. */
export interface FaultState {
  rates: FaultRates;
  /** Script entries not yet consumed, with their remaining counts. */
  script: ScriptEntry[];
  /** Faults served so far, by status (`"503"`) or kind (`hang`, `drop`, `spike`). */
  served: Record<string, number>;
}

/**
 * Parses an `X-Fault` header: a status (`503`, `429`, `400`, ...), `hang`, `drop`, `spike:MS` or
 * `cut:N` (the connection is destroyed after N tokens).
 */
export function parseFaultHeader(value: string, retryAfterS: number): Fault {
  if (value === 'hang' || value === 'drop') return { kind: value };
  const cut = /^cut:(\d+)$/.exec(value);
  if (cut) return { kind: 'cut', afterTokens: Number(cut[1]) };
  const spike = /^spike:(\d+)$/.exec(value);
  if (spike) return { kind: 'spike', ms: Number(spike[1]) };
  const status = Number(value);
  if (/^\d{3}$/.test(value) && status >= 400 && status <= 599) {
    return { kind: 'status', status, ...([429, 503].includes(status) ? { retryAfterS } : {}) };
  }
  throw new InvalidRequestError(
    `X-Fault must be a status 400-599, "hang", "drop", "spike:<ms>" or "cut:<tokens>"; got "${value}"`,
    'x-fault',
  );
}

function servedKey(fault: Fault): string {
  return fault.kind === 'status' ? String(fault.status) : fault.kind;
}

/** Decides, per request, which fault (if any) to serve: the header, then the script, then the rates. */
export class FaultInjector {
  private current: FaultRates;
  private script: ScriptEntry[] = [];
  private served: Record<string, number> = {};

  /**
   * @param initial rates at start (from the environment).
   * @param random source for the rates; tests pass a fixed sequence.
   */
  constructor(
    initial: Partial<FaultRates> = {},
    private readonly random: () => number = Math.random,
  ) {
    this.current = { ...NO_FAULTS, ...initial };
  }

  /** The rates in force. */
  get rates(): Readonly<FaultRates> {
    return this.current;
  }

  /** Merges `rates` into the current ones and replaces the script when one is given. */
  configure(body: FaultsBody): void {
    const rates = { ...this.current, ...body.rates };
    if (rates.rate429 + rates.rate500 + rates.rate503 + rates.rate400 > 1)
      throw new InvalidRequestError('status fault rates must sum to at most 1', 'rates');
    this.current = rates;
    if (body.script) this.script = body.script.map((e) => ({ ...e }));
  }

  /** No rates, no script, no served counts; `retryAfterS` and `spikeMs` keep their values. */
  clear(): void {
    const { retryAfterS, spikeMs } = this.current;
    this.current = { ...NO_FAULTS, retryAfterS, spikeMs };
    this.script = [];
    this.served = {};
  }

  /** A snapshot for `GET /_faults`. */
  state(): FaultState {
    return {
      rates: { ...this.current },
      script: this.script.map((e) => ({ ...e })),
      served: { ...this.served },
    };
  }

  /** The fault for this request, or undefined to serve it normally. Counts it as served. */
  pick(model: string, header?: Fault): { fault: Fault; source: FaultSource } | undefined {
    const picked: { fault: Fault; source: FaultSource } | undefined = header
      ? { fault: header, source: 'header' }
      : (this.fromScript(model) ?? this.fromRates());
    if (picked) this.served[servedKey(picked.fault)] = (this.served[servedKey(picked.fault)] ?? 0) + 1;
    return picked;
  }

  private fromScript(model: string): { fault: Fault; source: 'script' } | undefined {
    const i = this.script.findIndex((e) => e.model === undefined || e.model === model);
    const entry = this.script[i];
    if (!entry) return undefined;
    entry.count -= 1;
    if (entry.count <= 0) this.script.splice(i, 1);
    const fault: Fault =
      entry.kind === 'status'
        ? {
            kind: 'status',
            status: entry.status,
            retryAfterS:
              entry.retryAfterS ?? ([429, 503].includes(entry.status) ? this.current.retryAfterS : undefined),
          }
        : entry.kind === 'spike'
          ? { kind: 'spike', ms: entry.ms }
          : entry.kind === 'cut'
            ? { kind: 'cut', afterTokens: entry.afterTokens }
            : { kind: entry.kind };
    return { fault, source: 'script' };
  }

  private fromRates(): { fault: Fault; source: 'rate' } | undefined {
    const r = this.current;
    let x = this.random();
    for (const [rate, status] of [
      [r.rate429, 429],
      [r.rate500, 500],
      [r.rate503, 503],
      [r.rate400, 400],
    ] as const) {
      if (x < rate) {
        const retryAfterS = status === 429 || status === 503 ? r.retryAfterS : undefined;
        return { fault: { kind: 'status', status, retryAfterS }, source: 'rate' };
      }
      x -= rate;
    }
    if (r.hangRate > 0 && this.random() < r.hangRate) return { fault: { kind: 'hang' }, source: 'rate' };
    if (r.dropRate > 0 && this.random() < r.dropRate) return { fault: { kind: 'drop' }, source: 'rate' };
    if (r.spikeRate > 0 && this.random() < r.spikeRate)
      return { fault: { kind: 'spike', ms: r.spikeMs }, source: 'rate' };
    return undefined;
  }
}
