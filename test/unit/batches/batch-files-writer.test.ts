import { lineErrorLine, outcomeLine, resultFileIds } from '../../../src/batches/batch-files-writer';
import type { ItemOutcome } from '../../../src/batches/batch-repo';

const base: ItemOutcome = {
  idx: 0,
  customId: 'a',
  requestId: 'inf_0123abcd',
  state: 'completed',
  model: 'ref-small',
  acceptedAt: new Date('2026-12-07T00:00:00Z'),
  output: 'hello',
  finishReason: 'stop',
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
  error: null,
};
const chat = { status: 'completed' as const, endpoint: '/v1/chat/completions' };

test('a completed line: the output file, the endpoint’s response body with the charged usage', () => {
  expect(outcomeLine(base, chat)).toEqual({
    file: 'output',
    line: {
      id: 'batch_req_0123abcd',
      custom_id: 'a',
      response: {
        status_code: 200,
        request_id: 'inf_0123abcd',
        body: {
          id: 'inf_0123abcd',
          object: 'chat.completion',
          created: 1796601600,
          model: 'ref-small',
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: 'hello' },
              finish_reason: 'stop',
              logprobs: null,
            },
          ],
          usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
        },
      },
      error: null,
    },
  });
  const text = outcomeLine(base, { status: 'completed', endpoint: '/v1/completions' });
  expect(text.line.response?.body).toMatchObject({ object: 'text_completion', choices: [{ text: 'hello' }] });
});

test('a failed or rejected line: the error file with its HTTP status and error body', () => {
  const rejected = outcomeLine(
    { ...base, state: 'rejected', output: null, error: { type: 'quota_exceeded', message: 'over' } },
    chat,
  );
  expect(rejected).toEqual({
    file: 'error',
    line: {
      id: 'batch_req_0123abcd',
      custom_id: 'a',
      response: {
        status_code: 429,
        request_id: 'inf_0123abcd',
        body: { error: { message: 'over', type: 'quota_exceeded', param: null, code: 'quota_exceeded' } },
      },
      error: null,
    },
  });
  const odd = outcomeLine({ ...base, state: 'failed', error: { type: 'something_new', message: 'x' } }, chat);
  expect(odd.line.response?.status_code).toBe(500);
});

test('a line not run: batch_expired or batch_cancelled, no response', () => {
  const pending = { ...base, state: 'cancelled' as const, output: null, usage: null };
  expect(outcomeLine(pending, { ...chat, status: 'expired' }).line).toMatchObject({
    response: null,
    error: { code: 'batch_expired' },
  });
  expect(outcomeLine(pending, { ...chat, status: 'cancelled' }).line.error?.code).toBe('batch_cancelled');
});

test('an invalid input line names its 1-based line; the files have fixed ids', () => {
  expect(
    lineErrorLine('batch_ff', { line: 2, customId: null, code: 'invalid_json_line', message: 'line 3: x' }),
  ).toEqual({
    id: 'batch_req_ff_line3',
    custom_id: null,
    response: null,
    error: { code: 'invalid_json_line', message: 'line 3: x', line: 3 },
  });
  expect(resultFileIds('batch_abc')).toEqual({ output: 'file-abc-output', error: 'file-abc-errors' });
});
