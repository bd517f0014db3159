import { chatCompletionBody, completionBody, toSubmit } from '../../src/openai/openai-schemas';

test('a chat body maps to the native submit body and passes sampling parameters through', () => {
  const body = chatCompletionBody.parse({
    model: 'ref-small',
    messages: [
      { role: 'developer', content: 'be brief' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'hi ' },
          { type: 'text', text: 'there' },
        ],
      },
    ],
    max_completion_tokens: 12,
    max_tokens: 99,
    temperature: 0.2,
    top_p: 0.9,
    stop: 'END',
    seed: 7,
    user: 'u-1',
    top_k: 40,
    n: 1,
    stream: false,
  });
  expect(toSubmit(body)).toEqual({
    submit: {
      model: 'ref-small',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi there' },
      ],
      max_tokens: 12,
      temperature: 0.2,
    },
    sampling: { top_p: 0.9, stop: ['END'], seed: 7, user: 'u-1', top_k: 40 },
  });
});

test('a completion body without sampling parameters carries none', () => {
  expect(toSubmit(completionBody.parse({ model: 'm', prompt: 'p', max_tokens: 3 }))).toEqual({
    submit: { model: 'm', prompt: 'p', max_tokens: 3 },
  });
});

test.each([
  [{ n: 2 }, 'n'],
  [{ tools: [{ type: 'function' }] }, 'tools'],
  [{ logprobs: true }, 'logprobs'],
  [{ response_format: { type: 'json_object' } }, 'response_format'],
  [{ stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
  [{ frobnicate: 1 }, ''],
])('what cannot be honoured is refused, naming the parameter: %j', (extra, param) => {
  const r = chatCompletionBody.safeParse({
    model: 'm',
    messages: [{ role: 'user', content: 'x' }],
    ...extra,
  });
  expect(r.success).toBe(false);
  const issue = r.error!.issues[0]!;
  if (param) expect(issue.path[0]).toBe(param);
  else expect(issue.code).toBe('unrecognized_keys');
});
