import { z } from 'zod';

/** One injected fault. */
export type Fault =
  | { kind: 'status'; status: number; retryAfterS?: number }
  | { kind: 'hang' }
  | { kind: 'drop' }
  | { kind: 'spike'; ms: number };

/** Random fault rates (fractions of requests). */
export interface FaultRates {
  rate429: number;
  rate500: number;
  rate503: number;
  rate400: number;
  retryAfterS: number;
  spikeRate: number;
  spikeMs: number;
  hangRate: number;
  dropRate: number;
}

export const NO_FAULTS: FaultRates = {
  rate429: 0,
  rate500: 0,
  rate503: 0,
  rate400: 0,
  retryAfterS: 1,
  spikeRate: 0,
  spikeMs: 2000,
  hangRate: 0,
  dropRate: 0,
};

const scriptEntry = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('status'),
    status: z.number().int().min(400).max(599),
    retryAfterS: z.number().min(0).optional(),
    count: z.number().int().positive().default(1),
    model: z.string().optional(),
  }),
  z.strictObject({
    kind: z.literal('hang'),
    count: z.number().int().positive().default(1),
    model: z.string().optional(),
  }),
  z.strictObject({
    kind: z.literal('drop'),
    count: z.number().int().positive().default(1),
    model: z.string().optional(),
  }),
  z.strictObject({
    kind: z.literal('spike'),
    ms: z.number().min(0),
    count: z.number().int().positive().default(1),
    model: z.string().optional(),
  }),
]);

/** Body of PUT /_faults. */
export const faultsBodySchema = z.strictObject({
  rates: z
    .strictObject({
      rate429: z.number().min(0).max(1),
      rate500: z.number().min(0).max(1),
      rate503: z.number().min(0).max(1),
      rate400: z.number().min(0).max(1),
      retryAfterS: z.number().min(0),
      spikeRate: z.number().min(0).max(1),
      spikeMs: z.number().min(0),
      hangRate: z.number().min(0).max(1),
      dropRate: z.number().min(0).max(1),
    })
    .partial()
    .optional(),
  script: z.array(scriptEntry).optional(),
});
type ScriptEntry = z.infer<typeof scriptEntry>;

/** Parses an `X-Fault` header: `503`, `429`, `hang`, `drop`, `spike:1500`. */
export function parseFaultHeader(value: string | undefined, retryAfterS: number): Fault | undefined {
  if (!value) return undefined;
  if (value === 'hang') return { kind: 'hang' };
  if (value === 'drop') return { kind: 'drop' };
  const spike = /^spike:(\d+)$/.exec(value);
  if (spike) return { kind: 'spike', ms: Number(spike[1]) };
  const status = Number(value);
  if (Number.isInteger(status) && status >= 400 && status <= 599)
    return { kind: 'status', status, retryAfterS };
  return undefined;
}

/** Decides, per request, which fault (if any) to serve: header, then script, then random rates. */
export class FaultInjector {
  private rates: FaultRates;
  private script: ScriptEntry[] = [];
  readonly served: Record<string, number> = {};

  constructor(
    initial: FaultRates,
    private readonly random: () => number = Math.random,
  ) {
    this.rates = { ...initial };
  }

  configure(body: z.infer<typeof faultsBodySchema>): void {
    if (body.rates) this.rates = { ...this.rates, ...body.rates };
    if (body.script) this.script.push(...body.script.map((e) => ({ ...e })));
  }

  clear(): void {
    this.rates = { ...NO_FAULTS };
    this.script = [];
  }

  state(): { rates: FaultRates; script: ScriptEntry[]; served: Record<string, number> } {
    return { rates: this.rates, script: this.script, served: this.served };
  }

  /** The fault for this request, or undefined to serve it normally. */
  pick(model: string, header: string | undefined): Fault | undefined {
    const fault =
      parseFaultHeader(header, this.rates.retryAfterS) ?? this.fromScript(model) ?? this.fromRates();
    if (fault) {
      const key = fault.kind === 'status' ? String(fault.status) : fault.kind;
      this.served[key] = (this.served[key] ?? 0) + 1;
    }
    return fault;
  }

  private fromScript(model: string): Fault | undefined {
    const i = this.script.findIndex((e) => !e.model || e.model === model);
    if (i < 0) return undefined;
    const e = this.script[i]!;
    e.count -= 1;
    if (e.count <= 0) this.script.splice(i, 1);
    switch (e.kind) {
      case 'status':
        return { kind: 'status', status: e.status, retryAfterS: e.retryAfterS ?? this.rates.retryAfterS };
      case 'spike':
        return { kind: 'spike', ms: e.ms };
      default:
        return { kind: e.kind };
    }
  }

  private fromRates(): Fault | undefined {
    const r = this.rates;
    let x = this.random();
    const statuses: [number, number][] = [
      [r.rate429, 429],
      [r.rate500, 500],
      [r.rate503, 503],
      [r.rate400, 400],
    ];
    for (const [rate, status] of statuses) {
      if (x < rate) return { kind: 'status', status, retryAfterS: r.retryAfterS };
      x -= rate;
    }
    if (this.random() < r.hangRate) return { kind: 'hang' };
    if (this.random() < r.dropRate) return { kind: 'drop' };
    if (this.random() < r.spikeRate) return { kind: 'spike', ms: r.spikeMs };
    return undefined;
  }
}
