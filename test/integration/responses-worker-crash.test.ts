import OpenAI from 'openai';
import { spawnSystemProcess, type SystemProcess } from '../support/processes';
import { expectChargedOnce, modelStats, startStack, waitModelInFlight, type Stack } from '../support/stack';

/** A background response whose GPU worker process is killed with SIGKILL mid-response. */
let s: Stack;
let gpu: SystemProcess | undefined;
let client: OpenAI;
beforeAll(async () => {
  s = await startStack({ gpu: false, modelService: { decodeMsPerToken: 2 } });
  client = new OpenAI({ baseURL: `${s.apiUrl}/v1`, apiKey: s.apiKey, maxRetries: 0 });
});
afterAll(async () => {
  await gpu?.kill('SIGKILL');
  await s?.stop();
});

test('kill -9 of the GPU worker: the response completes on another worker, charged once; its stream continues the text', async () => {
  gpu = await spawnSystemProcess(s, 'workers/gpu-worker.ts', '/healthz');
  const r = await client.responses.create({
    model: 'ref-small',
    input: 'survive a crash',
    max_output_tokens: 3000,
    background: true,
  });
  await waitModelInFlight(s, 1);
  await gpu.kill('SIGKILL');
  await waitModelInFlight(s, 0);
  expect((await modelStats(s)).aborted).toBeGreaterThanOrEqual(1);
  await s.node.addGpuWorker();

  const events: OpenAI.Responses.ResponseStreamEvent[] = [];
  for await (const e of await client.responses.retrieve(r.id, { stream: true })) events.push(e);
  expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
  const types = events.map((e) => e.type as string);
  expect(types[types.length - 1]).toBe('response.incomplete');
  const done = await client.responses.retrieve(r.id);
  expect(done).toMatchObject({ status: 'incomplete', usage: { output_tokens: 3000 } });
  // The second attempt continued the answer (the reference model service can): the deltas, read
  // as every stream reader reads the relay, join to the stored text with no restart between.
  expect(types).not.toContain('response.output_text.restarted');
  const text = events
    .filter((e): e is OpenAI.Responses.ResponseTextDeltaEvent => e.type === 'response.output_text.delta')
    .map((e) => e.delta)
    .join('');
  expect(text).toBe(done.output_text);
  await expectChargedOnce(s, r.id);
});
