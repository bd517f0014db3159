import OpenAI from 'openai';
import { batchEventOf, endpointEventsSchema, openAiEventPayload } from '../../../src/webhooks/openai-events';
import { newWebhookSecret, signWebhook } from '../../../src/webhooks/webhook-signature';

/** OpenAI-shaped webhook events: the payload, the names, and a signature the openai client accepts. */
test('the payload is {id, object: event, created_at, type, data: {id}}, its id fixed by the delivery', () => {
  const at = new Date('2026-12-07T20:00:00Z');
  const p = openAiEventPayload('whk-inf_1-response.completed-whe_1', 'response.completed', 'inf_1', at);
  expect(p).toEqual({
    id: expect.stringMatching(/^evt_[a-f0-9]{32}$/),
    object: 'event',
    created_at: at.getTime() / 1000,
    type: 'response.completed',
    data: { id: 'inf_1' },
  });
  expect(openAiEventPayload('whk-inf_1-response.completed-whe_1', 'response.completed', 'inf_1', at).id).toBe(
    p.id,
  );
  expect(
    openAiEventPayload('whk-inf_2-response.completed-whe_1', 'response.completed', 'inf_2', at).id,
  ).not.toBe(p.id);
});

test('batch events are keyed by the terminal status, for every status OpenAI names and no other', () => {
  expect(['completed', 'failed', 'cancelled', 'expired'].map(batchEventOf)).toEqual([
    'batch.completed',
    'batch.failed',
    'batch.cancelled',
    'batch.expired',
  ]);
  expect(['in_progress', 'cancelling', 'validating', 'finalizing'].map(batchEventOf)).toEqual([
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
});

test('endpoints subscribe to native and OpenAI event names; unknown names are refused', () => {
  expect(endpointEventsSchema.parse(['completed', 'response.incomplete', 'batch.expired'])).toHaveLength(3);
  expect(endpointEventsSchema.safeParse(['response.started']).success).toBe(false);
});

test("the signature of a delivery is one the openai client's webhooks.unwrap accepts", async () => {
  const client = new OpenAI({ apiKey: 'unused', baseURL: 'http://127.0.0.1:9' });
  const secret = newWebhookSecret();
  const body = JSON.stringify(openAiEventPayload('whk-1', 'batch.completed', 'batch_1', new Date()));
  const ts = Math.floor(Date.now() / 1000);
  const headers = {
    'webhook-id': 'whk-1',
    'webhook-timestamp': String(ts),
    'webhook-signature': signWebhook(secret, 'whk-1', ts, body),
  };
  await expect(client.webhooks.unwrap(body, headers, secret)).resolves.toMatchObject({
    type: 'batch.completed',
    data: { id: 'batch_1' },
  });
  await expect(client.webhooks.unwrap(body, headers, newWebhookSecret())).rejects.toThrow();
});
