import { RelayWriter } from '../../../src/streams/relay-writer';
import type { RelayEvent, TokenRelay } from '../../../src/streams/token-relay';

/** A relay whose writes complete when the test says so, to see how the writer batches. */
function slowRelay() {
  const writes: RelayEvent[][] = [];
  const waiting: (() => void)[] = [];
  let fail = false;
  const relay = {
    append: (_id: string, events: RelayEvent[]) => {
      writes.push(events.map((e) => ({ ...e })));
      return new Promise<void>((resolve, reject) =>
        waiting.push(() => (fail ? reject(new Error('down')) : resolve())),
      );
    },
  } as unknown as TokenRelay;
  const completeOne = async (): Promise<void> => {
    waiting.shift()?.();
    await new Promise((r) => setImmediate(r));
  };
  return { relay, writes, completeOne, failNext: () => (fail = true), pending: () => waiting.length };
}

test('the first piece is written at once; pieces arriving meanwhile go out as one batch, in order', async () => {
  const r = slowRelay();
  const w = new RelayWriter(r.relay, 'inf_1', 1, () => undefined);
  expect(r.writes).toEqual([[{ type: 'attempt', attempt: 1 }]]);
  w.text('Hel');
  w.text('lo');
  w.text(', world');
  expect(r.writes).toHaveLength(1);
  await r.completeOne();
  expect(r.writes[1]).toEqual([{ type: 'text', attempt: 1, text: 'Hello, world' }]);
  const ended = w.end('stop');
  await r.completeOne();
  await r.completeOne();
  await ended;
  expect(r.writes[2]).toEqual([{ type: 'end', attempt: 1, finishReason: 'stop' }]);
  expect(r.pending()).toBe(0);
});

test('a failed write is reported once and the rest is dropped, never thrown into the model call', async () => {
  const r = slowRelay();
  const errors: unknown[] = [];
  const w = new RelayWriter(r.relay, 'inf_2', 2, (e) => errors.push(e));
  w.text('a');
  r.failNext();
  await r.completeOne();
  w.text('b');
  await expect(w.end('stop')).resolves.toBeUndefined();
  expect(errors).toHaveLength(1);
  expect(r.writes).toHaveLength(1); // nothing after the failed write
});
