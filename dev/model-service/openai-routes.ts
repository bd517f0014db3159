import { randomUUID } from 'node:crypto';
import express, { Router, type Request, type Response } from 'express';
import type { Tokenizer } from '../../src/tokenizer/tokenizer';
import { ContextLengthError, InvalidRequestError, ModelNotFoundError } from './errors';
import type { GenerationEngine } from './generation';
import { chatBody, completionBody } from './openai-schemas';
import { openAiJsonSink, openAiStreamSink, type OpenAiAnswerMeta } from './openai-sinks';
import { trackRequests, type ServiceStats } from './stats';
import { resumeChat, resumeCompletion, type AnswerStart } from './text-generator';
import { parseBody } from './validation';

/** Options for {@link openAiRoutes}. */
export interface OpenAiRoutesOptions {
  engine: GenerationEngine;
  tokenizer: Tokenizer;
  stats: ServiceStats;
  models: readonly string[];
  contextLength: number;
  defaultMaxTokens: number;
  bodyLimit: string;
}

/** `/v1/completions`, `/v1/chat/completions` and `/v1/models`, as vLLM serves them. */
export function openAiRoutes(o: OpenAiRoutesOptions): Router {
  const router = Router();
  const created = Math.floor(Date.now() / 1000);
  const modelObject = (id: string): object => ({ id, object: 'model', created, owned_by: 'reference' });
  const inference = [trackRequests(o.stats), express.json({ limit: o.bodyLimit })];

  router.get('/v1/models', (_req, res) => {
    res.json({ object: 'list', data: o.models.map(modelObject) });
  });
  router.get('/v1/models/:model', (req, res) => {
    if (!o.models.includes(req.params.model)) throw new ModelNotFoundError(req.params.model);
    res.json(modelObject(req.params.model));
  });

  const serve = async (
    req: Request,
    res: Response,
    input: {
      model: string;
      chat: boolean;
      promptText: string;
      promptTokens: number;
      /** Where the answer resumes (a continuation), decided by the route. */
      start: (input: { model: string; temperature?: number; seed?: number }) => AnswerStart;
      maxTokens?: number;
      temperature?: number;
      seed?: number;
      stream?: boolean;
      includeUsage?: boolean;
    },
  ): Promise<void> => {
    if (!o.models.includes(input.model)) throw new ModelNotFoundError(input.model);
    const maxTokens = input.maxTokens ?? o.defaultMaxTokens;
    if (input.promptTokens + maxTokens > o.contextLength) {
      const param = input.chat ? 'messages' : 'prompt';
      throw new ContextLengthError(o.contextLength, input.promptTokens, maxTokens, param);
    }
    const meta: OpenAiAnswerMeta = {
      id: `${input.chat ? 'chatcmpl' : 'cmpl'}-${randomUUID().replaceAll('-', '')}`,
      created: Math.floor(Date.now() / 1000),
      model: input.model,
      chat: input.chat,
      promptTokens: input.promptTokens,
    };
    const sink = input.stream
      ? openAiStreamSink(res, meta, input.includeUsage ?? false)
      : openAiJsonSink(res, meta);
    const { model, promptTokens, temperature, seed } = input;
    const { prompt: promptText, skip } = input.start({ model, temperature, seed });
    await o.engine.run(
      req,
      res,
      { model, promptText, promptTokens, maxTokens, temperature, seed, skip },
      sink,
    );
  };

  router.post('/v1/completions', ...inference, async (req, res) => {
    const body = parseBody(completionBody, req.body);
    await serve(req, res, {
      ...body,
      chat: false,
      promptText: body.prompt,
      // Prompt + the beginning of its answer (a retried call's continuation) goes on with the answer.
      start: (g) => resumeCompletion(o.tokenizer, { ...g, prompt: body.prompt }),
      promptTokens: o.tokenizer.countPrompt({ prompt: body.prompt }),
      maxTokens: body.max_tokens,
      includeUsage: body.stream_options?.include_usage,
    });
  });

  router.post('/v1/chat/completions', ...inference, async (req, res) => {
    const body = parseBody(chatBody, req.body);
    const last = body.messages.at(-1)!;
    const continues = body.continue_final_message === true;
    if (continues && body.add_generation_prompt !== false)
      throw new InvalidRequestError(
        'continue_final_message and add_generation_prompt cannot both be true',
        'add_generation_prompt',
      );
    if (continues && last.role !== 'assistant')
      throw new InvalidRequestError(
        'continue_final_message needs a final message with role assistant',
        'continue_final_message',
      );
    // The output depends on roles too, and a `[[stop:N]]` marker in any message is found.
    const serialize = (messages: typeof body.messages): string =>
      JSON.stringify(messages.map((m) => [m.role, m.content]));
    const promptText = serialize(body.messages);
    await serve(req, res, {
      ...body,
      chat: true,
      promptText,
      start: (g) =>
        continues
          ? resumeChat(o.tokenizer, { ...g, prompt: serialize(body.messages.slice(0, -1)) }, last.content)
          : { prompt: promptText, skip: 0 },
      promptTokens: o.tokenizer.countPrompt({ messages: body.messages }),
      maxTokens: body.max_completion_tokens ?? body.max_tokens,
      includeUsage: body.stream_options?.include_usage,
    });
  });
  return router;
}
