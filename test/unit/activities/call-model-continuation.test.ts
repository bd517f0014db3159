import { ModelCallError } from '../../../src/models/model-call-error';
import type { GenerateRequest } from '../../../src/models/model-adapter';
import { ErrorType } from '../../../src/shared/error-types';
import { StreamText } from '../../../src/streams/stream-text';
import type { RelayEvent, TokenRelay } from '../../../src/streams/token-relay';
import { inferenceInput } from '../../support/inference-input';
import { gpuSetup, resultOf, stream } from './gpu-fakes';

/**
 * A retried callModel continues the answer an earlier attempt produced (its heartbeat details and the
 * token relay hold it): the adapter is asked for the rest, the result is the whole answer charged
 * once, and the relay's readers see one text.
 */
const input = (o: Partial<Parameters<typeof inferenceInput>[1]> = {}) =>
  inferenceInput('gpu', { model: 'm', maxTokens: 10, promptTokens: 5, ...o });

/** An in-memory relay: entries with ids `n-0`, read back with StreamText's rules. */
function memoryRelay(initial: RelayEvent[] = []) {
  const entries: { id: string; event: RelayEvent }[] = [];
  const add = (event: RelayEvent): string => {
    const id = `${entries.length + 1}-0`;
    entries.push({ id, event: { ...event } });
    return id;
  };
  initial.forEach(add);
  const relay = {
    writeIntervalMs: 0,
    append: async (_id: string, events: RelayEvent[]) => void events.forEach(add),
    appendOne: async (_id: string, event: RelayEvent) => add(event),
    textBefore: async (_id: string, until: string) => {
      const view = new StreamText(true);
      for (const e of entries.slice(
        0,
        entries.findIndex((x) => x.id === until),
      ))
        view.apply(e.event);
      return { text: view.text, complete: entries[0]?.event.type === 'attempt' };
    },
  } as unknown as TokenRelay;
  /** What a reader of the whole stream shows. */
  const shown = (): string => {
    const view = new StreamText(true);
    for (const e of entries) view.apply(e.event);
    return view.text;
  };
  return { relay, entries, shown };
}

const continuedCount = async (s: ReturnType<typeof gpuSetup>, outcome: string): Promise<number> =>
  (await s.metrics.registry.getSingleMetric('inference_continuations_total')!.get()).values
    .filter((v) => v.labels.outcome === outcome)
    .reduce((n, v) => n + v.value, 0);
const metricTotal = async (s: ReturnType<typeof gpuSetup>, name: string): Promise<number> =>
  (await s.metrics.registry.getSingleMetric(name)!.get()).values.reduce((n, v) => n + v.value, 0);

test('attempt 2 continues from the heartbeated output: the rest of max_tokens, the whole answer, the original prompt', async () => {
  let asked: GenerateRequest | undefined;
  const s = gpuSetup(
    async (o, req) => {
      asked = req;
      stream(o, [' four', ' five']);
      return {
        text: ' four five',
        finishReason: 'stop',
        usageReported: true,
        // The server counts the partial output as prompt: prefilled again, not billed.
        usage: { prompt_tokens: 8, completion_tokens: 2, total_tokens: 10 },
      };
    },
    { info: { attempt: 2, heartbeatDetails: { tokens: 3, output: 'one two three' } } },
  );
  const inp = input();
  const r = await s.call(inp);
  expect(asked).toMatchObject({ continuation: 'one two three', maxTokens: 7, prompt: inp.prompt });
  expect(r).toEqual({
    text: 'one two three four five',
    finishReason: 'stop',
    usageReported: true,
    usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 },
  });
  // From its start the attempt's output is the continued answer (charged if it dies last).
  expect(s.calls).toEqual([
    ['markAttempt', inp.requestId, 2],
    ['marked', inp.requestId, 2],
    ['recordPartial', inp.requestId, 2, 'one two three', 3, 'error'],
  ]);
  expect(await continuedCount(s, 'continued')).toBe(1);
  expect(await metricTotal(s, 'inference_continuation_saved_tokens_total')).toBe(3);
  expect(await metricTotal(s, 'inference_continuation_prefill_tokens_total')).toBe(8);
});

test('a continued attempt that fails keeps the whole answer so far as its partial output', async () => {
  const s = gpuSetup(
    async (o) => {
      stream(o, [' four']);
      throw new ModelCallError(ErrorType.ModelUnavailable, 'reset', true);
    },
    { info: { attempt: 3, heartbeatDetails: { tokens: 3, output: 'one two three' } } },
  );
  const inp = input();
  await expect(s.call(inp)).rejects.toMatchObject({ type: ErrorType.ModelUnavailable });
  expect(s.calls).toContainEqual(['recordPartial', inp.requestId, 3, 'one two three four', 4, 'error']);
});

test('an adapter that cannot continue restarts from the prompt, and says so in a metric', async () => {
  let asked: GenerateRequest | undefined;
  const s = gpuSetup(
    async (o, req) => {
      asked = req;
      stream(o, ['fresh']);
      return resultOf('fresh');
    },
    { canContinue: false, info: { attempt: 2, heartbeatDetails: { tokens: 3, output: 'one two three' } } },
  );
  const inp = input({ prompt: undefined, messages: [{ role: 'user', content: 'hi' }] });
  await expect(s.call(inp)).resolves.toEqual(resultOf('fresh'));
  expect(asked?.continuation).toBeUndefined();
  expect(asked?.maxTokens).toBe(10);
  expect(await continuedCount(s, 'restarted')).toBe(1);
  expect(await continuedCount(s, 'continued')).toBe(0);
});

test('an earlier attempt that produced all of max_tokens: no call, the answer ends at length', async () => {
  const s = gpuSetup(
    async () => {
      throw new Error('not called');
    },
    { info: { attempt: 2, heartbeatDetails: { tokens: 10, output: 'a b c d e f g h i j' } } },
  );
  const r = await s.call(input());
  expect(r).toEqual({
    text: 'a b c d e f g h i j',
    finishReason: 'length',
    usageReported: false,
    usage: { prompt_tokens: 5, completion_tokens: 10, total_tokens: 15 },
  });
});

describe('with the token relay, readers see one text', () => {
  const attempt1 = (text: string): RelayEvent[] => [
    { type: 'attempt', attempt: 1 },
    { type: 'text', attempt: 1, text },
  ];
  const run = async (relayed: string, heartbeated: string) => {
    const m = memoryRelay(attempt1(relayed));
    let asked: GenerateRequest | undefined;
    const s = gpuSetup(
      async (o, req) => {
        asked = req;
        stream(o, [' next']);
        return resultOf(' next');
      },
      { relay: m.relay, info: { attempt: 2, heartbeatDetails: { tokens: 1, output: heartbeated } } },
    );
    const r = await s.call(input());
    return { r, asked, m };
  };

  test('the heartbeat is ahead: readers get the missing tail, then the continuation', async () => {
    const { r, asked, m } = await run('one two', 'one two three');
    expect(asked?.continuation).toBe('one two three');
    expect(r.text).toBe('one two three next');
    expect(m.shown()).toBe(r.text);
    expect(
      m.entries.some((e) => e.event.type === 'attempt' && e.event.attempt === 2 && !e.event.continues),
    ).toBe(false);
  });

  test('the relay is ahead: the continuation starts from what readers were shown', async () => {
    const { r, asked, m } = await run('one two three four', 'one two');
    expect(asked?.continuation).toBe('one two three four');
    expect(r.text).toBe('one two three four next');
    expect(m.shown()).toBe(r.text);
  });

  test('they disagree: the heartbeat wins and readers start again with the whole text', async () => {
    const { r, asked, m } = await run('something else', 'one two');
    expect(asked?.continuation).toBe('one two');
    expect(m.shown()).toBe(r.text);
    expect(
      m.entries.some((e) => e.event.type === 'attempt' && e.event.attempt === 2 && !e.event.continues),
    ).toBe(true);
  });

  test('text a timed-out attempt writes after its successor opened is not shown', async () => {
    const { r, m } = await run('one two', 'one two');
    m.entries.push({ id: '99-0', event: { type: 'text', attempt: 1, text: ' late' } });
    expect(m.shown()).toBe(r.text);
  });
});

test('a server that refuses the continuation request (400): the answer restarts in the same attempt', async () => {
  const m = memoryRelay([
    { type: 'attempt', attempt: 1 },
    { type: 'text', attempt: 1, text: 'one two' },
  ]);
  const asked: GenerateRequest[] = [];
  const s = gpuSetup(
    async (o, req) => {
      asked.push(req);
      if (req.continuation !== undefined) {
        throw new ModelCallError(
          ErrorType.ModelInvalidRequest,
          'unknown field continue_final_message',
          false,
          {
            status: 400,
          },
        );
      }
      stream(o, ['fresh ', 'answer']);
      return resultOf('fresh answer');
    },
    { relay: m.relay, info: { attempt: 2, heartbeatDetails: { tokens: 2, output: 'one two' } } },
  );
  await expect(s.call(input())).resolves.toEqual(resultOf('fresh answer'));
  expect(asked.map((r) => [r.continuation, r.maxTokens])).toEqual([
    ['one two', 8],
    [undefined, 10],
  ]);
  expect(m.shown()).toBe('fresh answer');
  expect(await continuedCount(s, 'restarted')).toBe(1);
});
