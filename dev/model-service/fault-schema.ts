import { z } from 'zod';

/** Random fault rates and their parameters; every rate is a fraction of requests (0 to 1). */
export interface FaultRates {
  /** Fraction answered 429 with Retry-After. @default 0 */
  rate429: number;
  /** Fraction answered 500. @default 0 */
  rate500: number;
  /** Fraction answered 503 with Retry-After. @default 0 */
  rate503: number;
  /** Fraction answered 400. @default 0 */
  rate400: number;
  /** Retry-After seconds sent with 429 and 503. @default 1 */
  retryAfterS: number;
  /** Fraction delayed by `spikeMs` before being served. @default 0 */
  spikeRate: number;
  /** Extra latency of a spike, ms. @default 2000 */
  spikeMs: number;
  /** Fraction accepted and never answered, until the client goes away. @default 0 */
  hangRate: number;
  /** Fraction whose connection is destroyed without an answer. @default 0 */
  dropRate: number;
}

/** Rates that inject nothing. */
export const NO_FAULTS: Readonly<FaultRates> = {
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

/** One injected fault. */
export type Fault =
  | { kind: 'status'; status: number; retryAfterS?: number }
  | { kind: 'hang' }
  | { kind: 'drop' }
  | { kind: 'spike'; ms: number }
  /** Served normally until `afterTokens` tokens, then the connection is destroyed (a crash mid-answer). */
  | { kind: 'cut'; afterTokens: number };

const rate = z.number().min(0).max(1);
const count = z.number().int().positive().default(1);
const model = z.string().min(1).optional();

/** One entry of a fault script: served to the next `count` matching requests. */
export const scriptEntrySchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('status'),
    status: z.number().int().min(400).max(599),
    retryAfterS: z.number().min(0).optional(),
    count,
    model,
  }),
  z.strictObject({ kind: z.literal('hang'), count, model }),
  z.strictObject({ kind: z.literal('drop'), count, model }),
  z.strictObject({ kind: z.literal('spike'), ms: z.number().min(0), count, model }),
  z.strictObject({ kind: z.literal('cut'), afterTokens: z.number().int().min(0), count, model }),
]);
export type ScriptEntry = z.infer<typeof scriptEntrySchema>;

/** Body of `PUT /_faults`: `rates` are merged into the current ones, `script` replaces the script. */
export const faultsBodySchema = z.strictObject({
  rates: z
    .strictObject({
      rate429: rate,
      rate500: rate,
      rate503: rate,
      rate400: rate,
      retryAfterS: z.number().min(0),
      spikeRate: rate,
      spikeMs: z.number().min(0),
      hangRate: rate,
      dropRate: rate,
    })
    .partial()
    .optional(),
  script: z.array(scriptEntrySchema).optional(),
});
export type FaultsBody = z.infer<typeof faultsBodySchema>;
