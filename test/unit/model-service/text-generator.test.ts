import fc from 'fast-check';
import {
  generateTokens,
  resumeChat,
  resumeCompletion,
  stopAfter,
  WORDS,
} from '../../../dev/model-service/text-generator';
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

test('a continued answer (prompt + its beginning) goes on exactly where it was cut', () => {
  const tk = getTokenizer();
  fc.assert(
    fc.property(
      // A completion prompt ending in punctuation, so the partial answer tokenizes apart from it.
      fc.string({ maxLength: 40 }).map((p) => `${p}:`),
      fc.integer({ min: 1, max: 80 }),
      fc.integer({ min: 1, max: 40 }),
      (prompt, cut, rest) => {
        const input = { model: 'ref-small', prompt };
        const whole = generateTokens(tk, input, cut + rest);
        const partial = tk.decode(whole.slice(0, cut));
        const completion = resumeCompletion(tk, { ...input, prompt: prompt + partial });
        expect(
          tk.decode(
            generateTokens(tk, { ...input, prompt: completion.prompt }, completion.skip + rest).slice(
              completion.skip,
            ),
          ),
        ).toBe(tk.decode(whole.slice(cut)));
        const chat = resumeChat(tk, input, partial);
        expect(chat).toEqual({ prompt, skip: cut });
      },
    ),
    { numRuns: 100 },
  );
});

test('a prompt that is not a continuation is a new answer; a foreign prefill is part of the prompt', () => {
  const tk = getTokenizer();
  expect(resumeCompletion(tk, { model: 'm', prompt: 'Tell me [[stop:3]]' })).toEqual({
    prompt: 'Tell me [[stop:3]]',
    skip: 0,
  });
  expect(resumeChat(tk, { model: 'm', prompt: 'p' }, 'Sure! Here is')).toMatchObject({ skip: 0 });
});
