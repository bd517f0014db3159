import type { Registry } from 'prom-client';
import type { Logger } from '../observability/logger';
import { ServerTokenCounter } from '../tokenizer/server-token-counter';
import { localCounter, type TokenCounter } from '../tokenizer/token-counter';
import type { ModelRegistry } from './model-registry';
import type { ModelSpec } from './model-spec';
import { tokenCountMetrics } from './token-count-metrics';

/** What a model's counter needs besides its spec. */
export interface TokenCounterDeps {
  /** Headers of the model's calls (its auth header), also sent to its tokenize endpoint. */
  headers?: Record<string, string>;
  metrics: Registry;
  logger: Logger;
}

/** The counter a model's registry entry names; counts are recorded in `inference_token_counts_total`. */
export function createTokenCounter(spec: ModelSpec, deps: TokenCounterDeps): TokenCounter {
  const m = tokenCountMetrics(deps.metrics);
  const inner: TokenCounter =
    spec.tokenizer === 'server'
      ? new ServerTokenCounter({
          baseUrl: spec.base_url,
          api: spec.tokenize_api,
          model: spec.upstream_model ?? spec.name,
          headers: deps.headers,
          timeoutMs: spec.tokenize_timeout_ms,
          fallback: localCounter('cl100k_base'),
          onFallback: (what, err) =>
            deps.logger.warn(
              { model: spec.name, what, error: err.message },
              what === 'prompt'
                ? 'model server did not count the prompt: reserving its UTF-8 byte bound'
                : 'model server did not count the completion: billing the cl100k_base estimate',
            ),
        })
      : localCounter(spec.tokenizer);
  return {
    async countPrompt(input, opts) {
      const c = await inner.countPrompt(input, opts);
      m.counts.inc({ model: spec.name, what: 'prompt', source: c.source });
      return c;
    },
    async countText(text) {
      const c = await inner.countText(text);
      m.counts.inc({ model: spec.name, what: 'completion', source: c.source });
      return c;
    },
  };
}

/** One counter per model of a registry, made on first use. */
export class TokenCounters {
  private readonly made = new Map<string, TokenCounter>();

  constructor(
    private readonly registry: ModelRegistry,
    private readonly deps: Omit<TokenCounterDeps, 'headers'> & {
      headersOf?: (spec: ModelSpec) => Record<string, string>;
    },
  ) {}

  /** The counter of `spec` (a model of the registry). */
  of(spec: ModelSpec): TokenCounter {
    let c = this.made.get(spec.name);
    if (!c) {
      c = createTokenCounter(spec, { ...this.deps, headers: this.deps.headersOf?.(spec) });
      this.made.set(spec.name, c);
    }
    return c;
  }

  /** The counter of the model named `name`, if the registry has it. */
  get(name: string): TokenCounter | undefined {
    const spec = this.registry.get(name);
    return spec ? this.of(spec) : undefined;
  }
}
