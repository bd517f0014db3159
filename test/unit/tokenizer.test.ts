import { getTokenizer } from '../../src/tokenizer/tokenizer';

test('counts with a real BPE tokenizer', () => {
  const t = getTokenizer('cl100k_base');
  expect(t.count('hello world')).toBe(2);
  expect(t.decode(t.encode('The quick brown fox'))).toBe('The quick brown fox');
  expect(getTokenizer('o200k_base').count('hello world')).toBe(2);
});

test('chat prompts cost 3 + 4 per message + role + content', () => {
  const t = getTokenizer();
  const msgs = [{ role: 'user' as const, content: 'hello world' }];
  expect(t.countChat(msgs)).toBe(3 + 4 + t.count('user') + 2);
  expect(t.countPrompt({ messages: msgs })).toBe(t.countChat(msgs));
  expect(t.countPrompt({ prompt: 'hello world' })).toBe(2);
});
