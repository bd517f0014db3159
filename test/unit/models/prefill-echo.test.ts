import { PrefillEcho } from '../../../src/models/prefill-echo';

const run = (prefill: string, pieces: string[]): string => {
  const e = new PrefillEcho(prefill);
  return pieces.map((p) => e.push(p)).join('') + e.flush();
};

test('an echo of the prefill in the first delta is dropped (llama.cpp assistant prefill)', () => {
  expect(run('The sea is a vast', ['The sea is a vast and', ' beautiful'])).toBe(' and beautiful');
});

test('an echo split over deltas is dropped too', () => {
  expect(run('The sea is', ['The ', 'sea', ' is', ' wide'])).toBe(' wide');
});

test('a continuation without an echo passes through at once', () => {
  const e = new PrefillEcho('The sea is a vast');
  expect(e.push(' and')).toBe(' and');
  expect(e.push(' wide')).toBe(' wide');
});

test('text that begins like the prefill but is not it is kept whole', () => {
  expect(run('The sea is', ['The ', 'ocean'])).toBe('The ocean');
  expect(run('The sea is', ['The '])).toBe('The ');
});

test('no prefill: everything passes', () => {
  expect(run('', ['a', 'b'])).toBe('ab');
});
