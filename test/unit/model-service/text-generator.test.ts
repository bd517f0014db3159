import fc from 'fast-check';
import { generateTokens, stopAfter, WORDS } from '../../../dev/model-service/text-generator';
import { getTokenizer, TOKENIZER_FAMILIES } from '../../../src/tokenizer/tokenizer';

test.each(TOKENIZER_FAMILIES)(
  'every word is one %s token, so any cut re-tokenizes to the same count',
  (family) => {
    const tk = getTokenizer(family);
    for (const w of WORDS) expect([w, tk.encode(` ${w}`).length]).toEqual([w, 1]);
  },
);

test('exactly count tokens; their text re-tokenizes to the same tokens; deterministic', () => {
  const tk = getTokenizer();
  fc.assert(
    fc.property(
      fc.string(),
      fc.constantFrom('ref-small', 'ref-large'),
      fc.option(fc.integer(), { nil: undefined }),
      fc.integer({ min: 0, max: 300 }),
      (prompt, model, seed, count) => {
        const input = { model, prompt, seed };
        const tokens = generateTokens(tk, input, count);
        expect(tokens).toHaveLength(count);
        const text = tk.decode(tokens);
        expect(tk.encode(text)).toEqual(tokens);
        expect(tokens.map((t) => tk.decode([t])).join('')).toBe(text);
        expect(generateTokens(tk, input, count)).toEqual(tokens);
      },
    ),
    { numRuns: 200 },
  );
});

test('[[stop:N]] marker', () => {
  expect(stopAfter('say hi [[stop:3]] please')).toBe(3);
  expect(stopAfter('[[stop:0]]')).toBe(0);
  expect(stopAfter('no marker [[stop:x]]')).toBeUndefined();
});
