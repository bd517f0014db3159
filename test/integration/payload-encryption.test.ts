import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { payloadCodec } from '../../src/codec/data-converter';
import { ENCRYPTED_ENCODING } from '../../src/codec/encryption-codec';
import type { InferenceInput } from '../../src/shared/types';
import { Worker } from '@temporalio/worker';
import { scriptFaults, startStack, type Stack } from '../support/stack';

/**
 * Prompts and outputs never reach Temporal in clear: a request runs through the real stack with
 * PAYLOAD_KEYS set, then its history is read by a client without the codec (what the server, its
 * database and anyone with read access see) and by one with it.
 */
let s: Stack;
let plainClient: Client;
beforeAll(async () => {
  s = await startStack({ env: { PAYLOAD_KEYS: `it-key:${randomBytes(32).toString('base64')}` } });
  plainClient = new Client({ connection: await Connection.connect({ address: s.cfg.TEMPORAL_ADDRESS! }) });
});
afterAll(async () => {
  await plainClient?.connection.close();
  await s?.stop();
});

/** Every string in `value`, byte fields read as UTF-8: what a reader of the raw history could find. */
function allText(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (value && typeof value === 'object') for (const v of Object.values(value)) allText(v, out);
  return out;
}

/** Every payload in `value` (the history's inputs, results, markers, memo…). */
function allPayloads(value: unknown, out: Payload[] = []): Payload[] {
  if (!value || typeof value !== 'object' || value instanceof Uint8Array) return out;
  if (Array.isArray((value as { payloads?: unknown }).payloads))
    out.push(...(value as { payloads: Payload[] }).payloads);
  for (const v of Object.values(value)) allPayloads(v, out);
  return out;
}

test('the prompt and the output appear nowhere in the raw history; the codec decodes the input', async () => {
  const secret = `zebra-quartz-${randomBytes(6).toString('hex')}`;
  const id = await s.submit(`Tell nobody: ${secret} [[stop:24]]`, 64);
  const done = await s.waitFinished(id);
  expect(done.status).toBe('completed');
  const output = done.output as string;
  expect(output.length).toBeGreaterThan(20);

  // The API reports completed once the row is written, a moment before the workflow closes: read
  // its history once it has closed, so that the workflow's result is in it.
  await s.client.workflow.getHandle(id).result();
  const history = await plainClient.workflow.getHandle(id).fetchHistory();
  const text = allText(history).join('\n');
  // The traversal reads the history: the workflow type and the task queues are there in clear.
  expect(text).toContain('inferenceWorkflow');
  expect(text).toContain(s.gpuQueue);
  expect(text).not.toContain(secret);
  expect(text).not.toContain(output);
  // Nor any three consecutive words of it: nothing leaks in pieces. (Single words are no test: the
  // SDK's own markers hold ordinary words such as "activity".)
  const words = output.split(/\s+/).filter(Boolean);
  for (let i = 0; i + 3 <= words.length; i++) expect(text).not.toContain(words.slice(i, i + 3).join(' '));

  const payloads = allPayloads(history);
  expect(payloads.length).toBeGreaterThan(3);
  // What stays in clear is the SDK's own bookkeeping in markers (patch ids, local activity seq,
  // type and times), written by the worker core below the codec; every value of ours is encrypted.
  const clear = payloads
    .filter((p) => Buffer.from(p.metadata?.encoding ?? []).toString() !== ENCRYPTED_ENCODING)
    .map((p) => defaultPayloadConverter.fromPayload<Record<string, unknown>>(p));
  // Every value that crosses Temporal for this request is encrypted: the workflow's input and
  // result, the model call's input and result (a count would change with the workflow's shape).
  const encrypted = (ps: Payload[] | null | undefined): boolean[] =>
    (ps ?? []).map((p) => Buffer.from(p.metadata?.encoding ?? []).toString() === ENCRYPTED_ENCODING);
  const ev = history.events!;
  const crossing = [
    ev.find((e) => e.workflowExecutionStartedEventAttributes)?.workflowExecutionStartedEventAttributes?.input,
    ev.find((e) => e.activityTaskScheduledEventAttributes)?.activityTaskScheduledEventAttributes?.input,
    ev.find((e) => e.activityTaskCompletedEventAttributes)?.activityTaskCompletedEventAttributes?.result,
    ev.find((e) => e.workflowExecutionCompletedEventAttributes)?.workflowExecutionCompletedEventAttributes
      ?.result,
  ];
  for (const [i, ps] of crossing.entries())
    expect({ i, encrypted: encrypted(ps?.payloads) }).toEqual({ i, encrypted: [true] });
  for (const c of clear)
    expect(Object.keys(c)).toEqual(expect.arrayContaining([c.activity_type ? 'seq' : 'deprecated']));

  // With the codec: the workflow's input is the request, prompt included.
  const codec = payloadCodec(s.cfg)!;
  const started = history.events![0]!.workflowExecutionStartedEventAttributes!;
  const [input] = await codec.decode(started.input!.payloads!);
  expect(defaultPayloadConverter.fromPayload<InferenceInput>(input!).prompt).toContain(secret);
  const decoded = allText(await codec.decode(payloads)).join('\n');
  expect(decoded).toContain(output);
  // And the stack's own client (with the codec) reads the result as usual.
  expect(await s.client.workflow.getHandle(id).result()).toMatchObject({ status: 'completed' });
});

test('an encrypted history replays with the codec, and fails to replay without it', async () => {
  const id = await s.submit('replay me encrypted', 6);
  expect((await s.waitFinished(id)).status).toBe('completed');
  const history = await plainClient.workflow.getHandle(id).fetchHistory();
  const workflowBundle = { codePath: process.env.TEST_WORKFLOW_BUNDLE! };
  await expect(
    Worker.runReplayHistory(
      { workflowBundle, dataConverter: { payloadCodecs: [payloadCodec(s.cfg)!] } },
      history,
      'encrypted-with-codec',
    ),
  ).resolves.toBeUndefined();
  // Without the key the workflow cannot even read its input: the codec is what makes it replay.
  const err = await Worker.runReplayHistory({ workflowBundle }, history, 'encrypted-without-codec').then(
    () => undefined,
    (e: Error) => e,
  );
  // The task failure's message is itself encoded (src/codec/failure-converter.ts, no codec here:
  // plain JSON); the replayer prints the start of those bytes, which name the unreadable encoding.
  const encoded = /encoded_attributes: Some\(\[([A-Za-z0-9+/]+=*)/.exec(err?.message ?? '')?.[1] ?? '';
  expect(Buffer.from(encoded, 'base64').toString()).toMatch(/Unknown encoding: bi/);
});

test('failure messages are encrypted too: a failed request shows its error type, not its message, in the raw history', async () => {
  await scriptFaults(s, [{ kind: 'status', status: 400, count: 1 }]);
  const id = await s.submit('this request fails', 8);
  const done = await s.waitFinished(id);
  expect(done.status).toBe('failed');
  // The model service's message, as the API reports it (from PostgreSQL).
  const message = (done.error as { message: string }).message;
  expect(message).toContain('injected fault');
  const failed = await s.client.workflow
    .getHandle(id)
    .result()
    .then(
      () => undefined,
      (err: Error & { cause?: Error }) => err.cause,
    );
  // With the codec the workflow's failure reads as before.
  expect(failed?.message).toBe(message);

  const history = await plainClient.workflow.getHandle(id).fetchHistory();
  const text = allText(history).join('\n');
  expect(text).not.toContain('injected fault');
  const ev = history.events!;
  const activityFailure = ev.find((e) => e.activityTaskFailedEventAttributes)!
    .activityTaskFailedEventAttributes!.failure!;
  const workflowFailure = ev.find((e) => e.workflowExecutionFailedEventAttributes)!
    .workflowExecutionFailedEventAttributes!.failure!;
  for (const f of [activityFailure, workflowFailure]) {
    // What an operator without the key still sees: that it failed, and with which error type.
    expect(f.message).toBe('Encoded failure');
    expect(Buffer.from(f.encodedAttributes!.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
  }
  expect(workflowFailure.applicationFailureInfo?.type).toBe(
    done.error && (done.error as { type: string }).type,
  );
  expect(workflowFailure.applicationFailureInfo?.nonRetryable).toBe(true);
});
