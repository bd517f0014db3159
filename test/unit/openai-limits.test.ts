import { paramOf } from '../../src/errors/param-of';
import {
  METADATA_MAX_PAIRS,
  STOP_MAX_CHARS,
  STOP_MAX_SEQUENCES,
  STOP_MAX_TOTAL_BYTES,
} from '../../src/openai/openai-limits';
import { chatCompletionBody, completionBody } from '../../src/openai/openai-schemas';

/** Issue 26 item 4: `stop` and `metadata` are bounded, and a refusal names the field (`stop[2]`). */
const chat = (extra: Record<string, unknown>) =>
  chatCompletionBody.safeParse({ model: 'm', messages: [{ role: 'user', content: 'x' }], ...extra });

/** The API's `param` of the first issue, as the error middleware words it. */
const refusedParam = (r: ReturnType<typeof chat>): string | undefined => {
  expect(r.success).toBe(false);
  return paramOf(r.error!.issues[0]!.path);
};

test('stop within the bounds passes: 4 sequences of 256 characters, 1 KiB in all', () => {
  const four = Array.from({ length: STOP_MAX_SEQUENCES }, (_, i) => String(i).repeat(STOP_MAX_CHARS));
  expect(STOP_MAX_SEQUENCES * STOP_MAX_CHARS).toBeLessThanOrEqual(STOP_MAX_TOTAL_BYTES);
  expect(chat({ stop: four }).success).toBe(true);
  expect(chat({ stop: 'END' }).success).toBe(true);
  expect(completionBody.safeParse({ model: 'm', prompt: 'p', stop: ['a', 'b'] }).success).toBe(true);
});

test.each([
  ['a 1 MB string', 'x'.repeat(1_000_000), 'stop'],
  ['one string over 256 characters', 'x'.repeat(STOP_MAX_CHARS + 1), 'stop'],
  ['an empty string', '', 'stop'],
  ['5 sequences', ['a', 'b', 'c', 'd', 'e'], 'stop'],
  ['10,000 sequences', Array.from({ length: 10_000 }, () => 'a'), 'stop'],
  ['the third sequence too long', ['a', 'b', 'x'.repeat(STOP_MAX_CHARS + 1)], 'stop[2]'],
  ['the second sequence empty', ['a', ''], 'stop[1]'],
  // 4 x 200 characters of 3-byte UTF-8 = 2,400 bytes: each short enough, together too many bytes.
  ['over 1 KiB of UTF-8 in all', Array.from({ length: 4 }, () => '€'.repeat(200)), 'stop'],
  ['a NUL', ['a\u0000b'], 'stop[0]'],
])('stop refused: %s, naming %s', (_what, stop, param) => {
  expect(refusedParam(chat({ stop }))).toBe(param);
});

test('metadata is bounded as OpenAI bounds it: 16 pairs, keys of 64 and values of 512 characters', () => {
  const pairs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
  expect(chat({ metadata: pairs(METADATA_MAX_PAIRS) }).success).toBe(true);
  expect(refusedParam(chat({ metadata: pairs(METADATA_MAX_PAIRS + 1) }))).toBe('metadata');
  expect(refusedParam(chat({ metadata: { ['k'.repeat(65)]: 'v' } }))).toMatch(/^metadata/);
  expect(refusedParam(chat({ metadata: { k: 'v'.repeat(513) } }))).toBe('metadata.k');
});

test('a chat message text part is bounded like a string content', () => {
  const r = chatCompletionBody.safeParse({
    model: 'm',
    messages: [{ role: 'user', content: [{ type: 'text', text: 'x'.repeat(1_000_001) }] }],
  });
  expect(paramOf(r.error!.issues[0]!.path)).toBe('messages[0].content[0].text');
});
