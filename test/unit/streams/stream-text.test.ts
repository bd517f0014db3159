import { StreamText } from '../../../src/streams/stream-text';
import type { RelayEvent } from '../../../src/streams/token-relay';

const view = (events: RelayEvent[]) => {
  const v = new StreamText(true);
  const steps = events.map((e) => v.apply(e));
  return { text: v.text, steps };
};

test('a continuing attempt extends the text; no restart', () => {
  const { text, steps } = view([
    { type: 'attempt', attempt: 1 },
    { type: 'text', attempt: 1, text: 'one two' },
    { type: 'end', attempt: 1, finishReason: 'error' },
    { type: 'attempt', attempt: 2, continues: true },
    { type: 'text', attempt: 2, text: ' three' },
  ]);
  expect(text).toBe('one two three');
  expect(steps.some((s) => s.restart)).toBe(false);
});

test('an attempt that does not continue starts the text again', () => {
  const { text, steps } = view([
    { type: 'attempt', attempt: 1 },
    { type: 'text', attempt: 1, text: 'one two' },
    { type: 'attempt', attempt: 2 },
    { type: 'text', attempt: 2, text: 'again' },
  ]);
  expect(text).toBe('again');
  expect(steps[2]).toEqual({ restart: true });
});

test("an older attempt's late text is dropped, and an older attempt's opening changes nothing", () => {
  const { text, steps } = view([
    { type: 'attempt', attempt: 1 },
    { type: 'text', attempt: 1, text: 'a' },
    { type: 'attempt', attempt: 2, continues: true },
    { type: 'text', attempt: 1, text: ' late' },
    { type: 'attempt', attempt: 1 },
    { type: 'text', attempt: 2, text: ' b' },
  ]);
  expect(text).toBe('a b');
  expect(steps[3]).toEqual({});
});
