import { defaultPayloadConverter } from '@temporalio/common';
import type { Registry } from 'prom-client';
import type { Env } from '../config/schema';
import type { Logger } from '../observability/logger';
import { atRestMetrics } from './at-rest-metrics';
import { payloadCodec, payloadEncryptionOn } from './data-converter';
import { isSealedPayload, PayloadSealer, type SealedPayload } from './payload-sealer';

/**
 * The stores that keep prompts or outputs outside Temporal history (history and the outbox of
 * starts are sealed by the Temporal data converter itself).
 */
export const AT_REST_STORES = [
  /** `idempotency_keys.input`: the workflow input (prompt) an Idempotency-Key is bound to. */
  'idempotency_keys',
  /** `batch_items.input`: each batch item's workflow input (prompt). */
  'batch_items',
  /**
   * `requests`: the generated output (`output_sealed`, also what batch results read) and the error
   * messages (`last_error_sealed`, `error_message_sealed`: a model service's error may quote the prompt).
   */
  'requests',
  /**
   * `webhook_deliveries.payload`: the event a webhook delivers, whose `error` is the request's
   * failure message (a model service's error may quote the prompt).
   */
  'webhook_deliveries',
  /** `responses.request`: a Responses API response's instructions and input items (a prompt). */
  'responses',
  /** Redis token streams: the `text` entries (generated output as it streams). */
  'token_streams',
  /**
   * `file_chunks`: uploaded files (batch input: prompts) and the batch output and error files
   * (outputs), chunk by chunk (`data_sealed`; `data` holds a chunk written in clear).
   */
  'files',
] as const;

/** One of {@link AT_REST_STORES}. */
export type AtRestStore = (typeof AT_REST_STORES)[number];

/** Options of {@link AtRestSealer}. */
export interface AtRestSealerOptions {
  /** Seals with the payload codec of history (same keys, same rotation). */
  sealer: PayloadSealer;
  /** Whether new values are sealed (payload encryption on); off: written in clear. */
  encrypts: boolean;
  /** Told of each value read back in clear (written before encryption, or with it off). */
  onClearRead?: (store: AtRestStore) => void;
}

/**
 * Prompts and outputs at rest outside history. New values are sealed under the active key when
 * payload encryption is on and written in clear when it is off; reads open a sealed value under
 * any known key id and pass a clear one (written by an earlier version) through, so turning
 * encryption on, rotating keys or turning it off needs no rewrite of stored rows.
 */
export class AtRestSealer {
  constructor(private readonly o: AtRestSealerOptions) {}

  /** Whether new values are sealed. */
  get encrypts(): boolean {
    return this.o.encrypts;
  }

  /** `value` sealed when encryption is on, else `value` itself. */
  async seal<T>(value: T): Promise<T | SealedPayload> {
    return this.o.encrypts ? this.o.sealer.seal(value) : value;
  }

  /** `value` sealed when encryption is on, else undefined (the caller stores it in clear). */
  async sealOrSkip(value: unknown): Promise<SealedPayload | undefined> {
    return this.o.encrypts ? this.o.sealer.seal(value) : undefined;
  }

  /** The value a store kept: opened when sealed, as it is when it was written in clear. */
  async open<T>(store: AtRestStore, stored: T | SealedPayload): Promise<T> {
    if (isSealedPayload(stored)) return this.o.sealer.open<T>(stored);
    this.o.onClearRead?.(store);
    return stored;
  }

  /** Opens a value known to be sealed (a column or entry that holds nothing else). */
  openSealed<T>(stored: SealedPayload): Promise<T> {
    return this.o.sealer.open<T>(stored);
  }

  /**
   * A value kept in one of two columns: `sealed` (written with encryption on) or `clear` (written
   * with it off, or by an earlier version); null when neither holds one.
   */
  async openColumns<T>(store: AtRestStore, sealed: SealedPayload | null, clear: T | null): Promise<T | null> {
    if (sealed !== null) return this.o.sealer.open<T>(sealed);
    if (clear !== null) this.o.onClearRead?.(store);
    return clear;
  }
}

/** Writes in clear and opens nothing sealed: unit tests and tools that never see a prompt. */
export const CLEAR_AT_REST = new AtRestSealer({
  sealer: new PayloadSealer({ payloadConverter: defaultPayloadConverter, payloadCodecs: [] }),
  encrypts: false,
});

/**
 * The sealer of a process, with the keys and active key of its Temporal data converter
 * (PAYLOAD_KEYS, PAYLOAD_ACTIVE_KEY_ID, PAYLOAD_ENCRYPTION). Sets `inference_at_rest_encryption`
 * per store and logs which stores are sealed, once per process.
 */
export function createAtRestSealer(cfg: Env, deps: { registry: Registry; logger: Logger }): AtRestSealer {
  const codec = payloadCodec(cfg);
  const encrypts = payloadEncryptionOn(cfg);
  const metrics = atRestMetrics(deps.registry);
  for (const store of AT_REST_STORES) metrics.encrypted.set({ store }, encrypts ? 1 : 0);
  deps.logger.info(
    {
      sealed: encrypts ? AT_REST_STORES : [],
      clear: encrypts ? [] : AT_REST_STORES,
      ...(encrypts ? { activeKeyId: cfg.PAYLOAD_ACTIVE_KEY_ID ?? cfg.PAYLOAD_KEYS?.[0]?.id } : {}),
    },
    encrypts
      ? 'prompts and outputs at rest are encrypted'
      : 'prompts and outputs at rest are stored in clear (PAYLOAD_ENCRYPTION=off or no PAYLOAD_KEYS)',
  );
  return new AtRestSealer({
    sealer: new PayloadSealer({
      payloadConverter: defaultPayloadConverter,
      payloadCodecs: codec ? [codec] : [],
    }),
    encrypts,
    onClearRead: (store) => metrics.clearReads.inc({ store }),
  });
}
