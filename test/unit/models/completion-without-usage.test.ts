import { completionWithoutUsage } from '../../../src/models/openai-adapter';

describe('completionWithoutUsage (a stream that carried no usage)', () => {
  test('ended by length: exactly max_tokens, whatever the text re-tokenizes to', () => {
    // Gemma 3 270M, a Python prompt: 8 tokens generated, their text re-tokenized as 7.
    expect(completionWithoutUsage({ finishReason: 'length', chunks: 8, maxTokens: 8, counted: 7 })).toBe(8);
    expect(completionWithoutUsage({ finishReason: 'length', chunks: 5, maxTokens: 8, counted: 12 })).toBe(8);
  });

  test('ended by stop: the model-way count, never below the non-empty chunks', () => {
    expect(completionWithoutUsage({ finishReason: 'stop', chunks: 6, maxTokens: 32, counted: 5 })).toBe(6);
    expect(completionWithoutUsage({ finishReason: 'stop', chunks: 4, maxTokens: 32, counted: 9 })).toBe(9);
  });

  test('never more than max_tokens', () => {
    expect(completionWithoutUsage({ finishReason: 'stop', chunks: 3, maxTokens: 24, counted: 32 })).toBe(24);
  });
});
