import { getTokenizer } from '../../src/tokenizer/tokenizer';
import { spawnSystemProcess, type SystemProcess } from '../support/processes';
import { expectChargedOnce, scriptFaults, startStack, waitModelInFlight, type Stack } from '../support/stack';

/**
 * Issue 30, continuation on retry: an attempt cut short mid-answer (GPU worker killed, model server
 * connection cut) is continued by the next one. Every stream shows one unbroken text equal to the
 * stored output and to the answer an uninterrupted call gives; the request is charged once.
 */
let s: Stack;
let gpu: SystemProcess | undefined;
beforeAll(async () => {
  // 300 tokens at 8 ms: a 2.4 s answer, long enough to cut at a chosen point.
  s = await startStack({ gpu: false, modelService: { decodeMsPerToken: 8 } });
});
afterAll(async () => {
  await gpu?.kill('SIGKILL');
  await s?.stop();
});

const tk = getTokenizer();
const MAX = 300;
/** A random cut point, away from both ends. */
const somewhere = (): number => 20 + Math.floor(Math.random() * (MAX - 60));

type Kind = 'chat' | 'text';
const bodyOf = (kind: Kind, prompt: string, stream: boolean): Record<string, unknown> => ({
  model: 'ref-small',
  max_tokens: MAX,
  stream,
  ...(stream ? { stream_options: { include_usage: true } } : {}),
  ...(kind === 'chat' ? { messages: [{ role: 'user', content: prompt }] } : { prompt }),
});
const path = (kind: Kind): string => (kind === 'chat' ? '/v1/chat/completions' : '/v1/completions');

/** Reads an SSE response frame by frame; `onData` sees each parsed `data:` (and `event:`) frame. */
async function readFrames(res: Response, onFrame: (f: { event: string; data: any }) => void): Promise<void> {
  let buf = '';
  const decoder = new TextDecoder();
  for await (const bytes of res.body!) {
    buf += decoder.decode(bytes as Uint8Array, { stream: true });
    let cut: number;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      if (frame.startsWith(':')) continue;
      let event = 'message';
      let data = '';
      for (const line of frame.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        if (line.startsWith('data: ')) data = line.slice(6);
      }
      onFrame({ event, data: data === '[DONE]' ? data : JSON.parse(data) });
    }
  }
}

/** An OpenAI stream of one answer: its text as the client shows it, the chunks, and the request id. */
async function openAiStream(kind: Kind, prompt: string, onText?: (text: string) => void) {
  const res = await fetch(`${s.apiUrl}${path(kind)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${s.apiKey}` },
    body: JSON.stringify(bodyOf(kind, prompt, true)),
  });
  expect(res.status).toBe(200);
  const id = res.headers.get('x-request-id')!;
  const chunks: any[] = [];
  let text = '';
  const done = readFrames(res, ({ data }) => {
    chunks.push(data);
    const piece = data?.choices?.[0]?.delta?.content ?? data?.choices?.[0]?.text;
    if (piece) {
      text += piece;
      onText?.(text);
    }
  }).then(() => ({ text, chunks }));
  return { id, done };
}

/** The native stream of a request (GET /v1/inference/:id/stream), followed from its start. */
async function nativeStream(id: string) {
  const res = await fetch(`${s.apiUrl}/v1/inference/${id}/stream`, {
    headers: { authorization: `Bearer ${s.apiKey}` },
  });
  expect(res.status).toBe(200);
  const events: { event: string; data: any }[] = [];
  await readFrames(res, (f) => events.push(f));
  const text = events
    .filter((e) => e.event === 'token')
    .map((e) => e.data.text as string)
    .join('');
  return { text, events };
}

/** The answer an uninterrupted call gives (the reference service is deterministic). */
async function uninterrupted(kind: Kind, prompt: string): Promise<{ text: string; usage: any }> {
  const res = await s.call('POST', path(kind), bodyOf(kind, prompt, false));
  expect(res.status).toBe(200);
  const choice = res.body.choices[0];
  return { text: kind === 'chat' ? choice.message.content : choice.text, usage: res.body.usage };
}

/** Everything issue 30 asks of a continued answer. */
async function expectOneAnswer(
  kind: Kind,
  prompt: string,
  id: string,
  client: { text: string; chunks: any[] },
  native: { text: string; events: { event: string; data: any }[] },
): Promise<void> {
  const row = await s.waitFinished(id, 60_000);
  expect(row).toMatchObject({ status: 'completed', finish_reason: 'length' });
  expect(row.attempts).toBeGreaterThanOrEqual(2);
  // One unbroken text everywhere: the client's, the native stream's, the stored one, the model's.
  expect(client.text).toBe(row.output);
  expect(native.text).toBe(row.output);
  const whole = await uninterrupted(kind, prompt);
  expect(row.output).toBe(whole.text);
  expect(tk.count(row.output)).toBe(MAX);
  // No restart marker on either stream.
  expect(client.chunks.some((c) => c?.x_attempt_restarted !== undefined)).toBe(false);
  const attempts = native.events.filter((e) => e.event === 'attempt').map((e) => e.data);
  expect(attempts.some((a) => a.restarted)).toBe(false);
  expect(attempts.at(-1)).toMatchObject({ continued: true });
  // Charged once: the original prompt and every completion token, in the ledger and Redis alike.
  expect(row.usage).toEqual(whole.usage);
  const usageChunk = client.chunks.find((c) => c?.usage);
  expect(usageChunk?.usage).toEqual(whole.usage);
  await expectChargedOnce(s, id);
}

test('a GPU worker killed mid-answer (SIGKILL): the next worker continues the answer', async () => {
  gpu = await spawnSystemProcess(s, 'workers/gpu-worker.ts', '/healthz');
  const prompt = 'continue after a crash';
  const cutAt = somewhere();
  let killed: Promise<void> | undefined;
  const { id, done } = await openAiStream('chat', prompt, (text) => {
    if (!killed && tk.count(text) >= cutAt) killed = gpu!.kill('SIGKILL');
  });
  const native = nativeStream(id);
  await waitModelInFlight(s, 1);
  while (!killed) await new Promise((r) => setTimeout(r, 20));
  await killed;
  await waitModelInFlight(s, 0);
  // The call is retried after the heartbeat timeout, on a new worker.
  await s.node.addGpuWorker();
  await expectOneAnswer('chat', prompt, id, await done, await native);
  const saved = (
    await s.node.workers.gpu[0]!.metrics.registry.getSingleMetric(
      'inference_continuation_saved_tokens_total',
    )!.get()
  ).values.reduce((n, v) => n + v.value, 0);
  expect(saved).toBeGreaterThan(0);
  expect(saved).toBeLessThan(MAX);
});

test.each([
  ['chat', somewhere()],
  ['text', somewhere()],
  ['chat', somewhere()],
] as [Kind, number][])(
  'the model service cuts a %s answer after %i tokens: the retry continues it',
  async (kind, after) => {
    if (!s.node.workers.gpu.length) await s.node.addGpuWorker();
    await scriptFaults(s, [{ kind: 'cut', afterTokens: after, count: 1 }]);
    const prompt = `cut at ${after} (${kind})`;
    const { id, done } = await openAiStream(kind, prompt);
    const native = nativeStream(id);
    await expectOneAnswer(kind, prompt, id, await done, await native);
    await scriptFaults(s, []);
  },
);
