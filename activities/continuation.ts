import type { ModelAdapter } from '../src/models/model-adapter';
import type { ContinuationMetrics } from '../src/models/continuation-metrics';
import type { Logger } from '../src/observability/logger';
import type { RelayEvent, TokenRelay } from '../src/streams/token-relay';
import type { InferenceInput, ModelCallResult } from '../src/shared/types';

/** What a model call heartbeats: tokens so far and the answer so far (what a retry continues). */
export interface CallProgress {
  tokens: number;
  /** Absent when longer than {@link HEARTBEAT_OUTPUT_MAX_CHARS} (the relay then holds it). */
  output?: string;
}

/** Longest output carried in heartbeat details (a Temporal payload; far below its size limit). */
export const HEARTBEAT_OUTPUT_MAX_CHARS = 256 * 1024;

/** The progress to heartbeat. */
export function progress(tokens: number, output: string): CallProgress {
  return output.length <= HEARTBEAT_OUTPUT_MAX_CHARS ? { tokens, output } : { tokens };
}

/** The progress an earlier attempt heartbeated, if its details are ours. */
export function progressOf(details: unknown): CallProgress | undefined {
  const d = details as Partial<CallProgress> | undefined;
  if (!d || typeof d !== 'object' || typeof d.tokens !== 'number') return undefined;
  return { tokens: d.tokens, ...(typeof d.output === 'string' ? { output: d.output } : {}) };
}

/** How a retried attempt continues the answer. */
export interface ContinuationPlan {
  /** The answer so far: this attempt's output starts with it ('' when nothing was produced). */
  prefix: string;
  /** Completion tokens of `prefix`, the model's way (never above max_tokens). */
  produced: number;
  /** The relay's opening entry of this attempt is written (its writer must not write another). */
  relayOpened: boolean;
}

/** Dependencies of {@link planContinuation}. */
export interface ContinuationDeps {
  adapter: ModelAdapter;
  relay?: TokenRelay;
  metrics: ContinuationMetrics;
  logger: Logger;
}

/**
 * Decides where attempt `attempt` (> 1) starts: from the answer an earlier attempt produced, as its
 * last heartbeat (durable) and the token relay (what stream readers were shown) hold it. The longer
 * of the two wins when one extends the other; the relay then gets the part its readers missed, so
 * every reader shows prefix + continuation as one text. When they disagree, or the relay cannot be
 * read, the heartbeat wins and readers are told to start again (the text they get is still whole).
 * Undefined: the attempt restarts from the prompt as before (nothing produced, the adapter cannot
 * continue, or the partial output could not be counted); the reason is logged and counted.
 */
export async function planContinuation(
  deps: ContinuationDeps,
  input: InferenceInput,
  attempt: number,
  heartbeatDetails: unknown,
): Promise<ContinuationPlan | undefined> {
  const { adapter, relay, metrics, logger } = deps;
  const heartbeat = progressOf(heartbeatDetails);
  const chat = input.messages !== undefined;
  const log = { requestId: input.requestId, model: input.model, attempt };
  if (!heartbeat?.output && !relay) return undefined;
  if (!adapter.canContinue(chat)) {
    if (heartbeat?.tokens) {
      metrics.attempts.inc({ model: input.model, outcome: 'restarted', reason: 'unsupported' });
      logger.info(log, 'model cannot continue a chat answer (chat_continuation: none): answer restarts');
    }
    return undefined;
  }
  const h = heartbeat?.output ?? '';
  let shown: string | undefined;
  let opened: string | undefined;
  if (relay) {
    try {
      opened = await relay.appendOne(input.requestId, { type: 'attempt', attempt, continues: true });
      const before = await relay.textBefore(input.requestId, opened);
      if (before.complete) shown = before.text;
    } catch (err) {
      logger.warn({ ...log, err }, 'token relay unreadable: the continued answer is streamed again whole');
    }
  }
  let prefix = h;
  let bridge: string | undefined; // what readers were not shown of `prefix`, when it extends their text
  if (shown !== undefined && h.startsWith(shown)) bridge = h.slice(shown.length);
  else if (shown !== undefined && shown.startsWith(h)) [prefix, bridge] = [shown, ''];
  let produced = 0;
  if (prefix) {
    try {
      const counted = await adapter.countTokens(prefix);
      // As completionWithoutUsage: never fewer than the pieces heartbeated for this very text.
      const pieces = prefix === h ? (heartbeat?.tokens ?? 0) : 0;
      produced = Math.min(input.maxTokens, Math.max(counted, pieces));
    } catch (err) {
      metrics.attempts.inc({ model: input.model, outcome: 'restarted', reason: 'uncounted' });
      logger.warn({ ...log, err }, 'partial output could not be counted: answer restarts');
      prefix = '';
    }
  }
  if (relay && opened !== undefined) {
    // Readers are shown prefix whole: the missing tail, or (unknown or different text) all of it again.
    const events: RelayEvent[] =
      prefix && bridge !== undefined
        ? bridge
          ? [{ type: 'text', attempt, text: bridge }]
          : []
        : !prefix && shown === ''
          ? []
          : [
              { type: 'attempt', attempt },
              ...(prefix ? [{ type: 'text' as const, attempt, text: prefix }] : []),
            ];
    await relay.append(input.requestId, events).catch((err: unknown) => {
      logger.warn({ ...log, err }, 'token relay write failed; live stream incomplete');
    });
  }
  if (prefix) {
    metrics.attempts.inc({ model: input.model, outcome: 'continued', reason: '' });
    logger.info(
      { ...log, producedTokens: produced, remainingTokens: input.maxTokens - produced },
      'model call continues the answer of an earlier attempt',
    );
  }
  return { prefix, produced, relayOpened: opened !== undefined };
}

/**
 * The result of a continued call as the request's: the answer so far followed by the continuation;
 * prompt tokens of the original prompt (the repeated prefill is metered, not billed); completion
 * tokens produced before plus those of the continuation, never above max_tokens.
 */
export function continuedResult(
  plan: Pick<ContinuationPlan, 'prefix' | 'produced'>,
  result: ModelCallResult,
  input: Pick<InferenceInput, 'model' | 'promptTokens' | 'maxTokens'>,
  /** Counts the tokens saved and the repeated prefill; none when no call was made. */
  metrics?: ContinuationMetrics,
): ModelCallResult {
  if (!plan.prefix) return result;
  metrics?.savedTokens.inc({ model: input.model }, plan.produced);
  metrics?.prefillTokens.inc(
    { model: input.model },
    result.usageReported ? result.usage.prompt_tokens : input.promptTokens + plan.produced,
  );
  const completion = Math.min(input.maxTokens, plan.produced + result.usage.completion_tokens);
  return {
    text: plan.prefix + result.text,
    finishReason: result.finishReason,
    usageReported: result.usageReported,
    usage: {
      prompt_tokens: input.promptTokens,
      completion_tokens: completion,
      total_tokens: input.promptTokens + completion,
    },
  };
}
