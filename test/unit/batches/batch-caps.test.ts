import { capExceeded } from '../../../src/batches/batch-caps';

const caps = { maxBatches: 2, maxItems: 100, maxTokens: 1000 };

test('each cap refuses what would pass it, naming it, with the usual 429 headers', () => {
  expect(
    capExceeded(caps, { batches: 1, items: 50, tokens: 500 }, { batches: 1, items: 50, tokens: 500 }),
  ).toBeUndefined();
  expect(
    capExceeded(caps, { batches: 2, items: 0, tokens: 0 }, { batches: 1, items: 0, tokens: 0 }),
  ).toMatchObject({
    type: 'quota_exceeded',
    param: 'batches_in_flight',
    headers: {
      'X-RateLimit-Limit': '2',
      'X-RateLimit-Remaining': '0',
      'X-RateLimit-Limit-Name': 'batches_in_flight',
    },
  });
  expect(
    capExceeded(caps, { batches: 0, items: 60, tokens: 0 }, { batches: 1, items: 41, tokens: 0 }),
  ).toMatchObject({
    param: 'batch_items_in_flight',
  });
  const t = capExceeded(caps, { batches: 0, items: 0, tokens: 999 }, { batches: 1, items: 1, tokens: 2 });
  expect(t).toMatchObject({ param: 'batch_enqueued_tokens', retryAfterS: 60 });
  expect(t!.message).toMatch(/limit 1000, in flight 999, this batch needs 2/);
});
