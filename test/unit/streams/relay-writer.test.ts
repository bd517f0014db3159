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

describe('with a write interval', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  /** A relay whose writes complete at once, recording when each started. */
  function fastRelay() {
    const writes: { at: number; events: RelayEvent[] }[] = [];
    const relay = {
      append: (_id: string, events: RelayEvent[]) => {
        writes.push({ at: Date.now(), events: events.map((e) => ({ ...e })) });
        return Promise.resolve();
      },
    } as unknown as TokenRelay;
    return { relay, writes };
  }
  const settle = () => jest.advanceTimersByTimeAsync(0);

  test('the first piece goes at once, with the attempt entry; later pieces wait for the interval and go as one write', async () => {
    const r = fastRelay();
    const w = new RelayWriter(r.relay, 'inf_3', 1, () => undefined, { intervalMs: 20 });
    await jest.advanceTimersByTimeAsync(5);
    expect(r.writes).toHaveLength(0); // the attempt entry waits (at most the interval) for the first piece
    w.text('a');
    await settle();
    expect(r.writes.map((x) => x.events)).toEqual([
      [
        { type: 'attempt', attempt: 1 },
        { type: 'text', attempt: 1, text: 'a' },
      ],
    ]);
    for (const piece of ['b', 'c', 'd']) {
      w.text(piece);
      await jest.advanceTimersByTimeAsync(5);
    }
    expect(r.writes).toHaveLength(1); // 15 ms after the first piece: still within the interval
    await jest.advanceTimersByTimeAsync(5);
    expect(r.writes).toHaveLength(2);
    expect(r.writes[1]).toEqual({
      at: r.writes[0]!.at + 20,
      events: [{ type: 'text', attempt: 1, text: 'bcd' }],
    });
  });

  test('with no text yet (queued, prefill), the attempt entry goes out alone once the interval passes', async () => {
    const r = fastRelay();
    new RelayWriter(r.relay, 'inf_5', 3, () => undefined, { intervalMs: 20 });
    await jest.advanceTimersByTimeAsync(19);
    expect(r.writes).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(r.writes).toEqual([{ at: 1_000_020, events: [{ type: 'attempt', attempt: 3 }] }]);
  });

  test('the end goes out at once with what is pending, without waiting for the interval', async () => {
    const r = fastRelay();
    let counted = 0;
    const w = new RelayWriter(r.relay, 'inf_4', 2, () => undefined, {
      intervalMs: 1000,
      onWrite: () => counted++,
    });
    w.text('x');
    await settle();
    w.text('y');
    w.text('z');
    const started = Date.now();
    await w.end('stop');
    expect(Date.now()).toBe(started);
    expect(r.writes.map((x) => x.events)).toEqual([
      [
        { type: 'attempt', attempt: 2 },
        { type: 'text', attempt: 2, text: 'x' },
      ],
      [
        { type: 'text', attempt: 2, text: 'yz' },
        { type: 'end', attempt: 2, finishReason: 'stop' },
      ],
    ]);
    expect(jest.getTimerCount()).toBe(0);
    expect(counted).toBe(2);
  });
});
