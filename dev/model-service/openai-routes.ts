import { randomUUID } from 'node:crypto';
import express, { Router, type Request, type Response } from 'express';
import type { Tokenizer } from '../../src/tokenizer/tokenizer';
import { ContextLengthError, ModelNotFoundError } from './errors';
import type { GenerationEngine } from './generation';
import { chatBody, completionBody } from './openai-schemas';
import { openAiJsonSink, openAiStreamSink, type OpenAiAnswerMeta } from './openai-sinks';
import { trackRequests, type ServiceStats } from './stats';
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
    const { model, promptText, promptTokens, temperature, seed } = input;
    await o.engine.run(req, res, { model, promptText, promptTokens, maxTokens, temperature, seed }, sink);
  };

  router.post('/v1/completions', ...inference, async (req, res) => {
    const body = parseBody(completionBody, req.body);
    await serve(req, res, {
      ...body,
      chat: false,
      promptText: body.prompt,
      promptTokens: o.tokenizer.countPrompt({ prompt: body.prompt }),
      maxTokens: body.max_tokens,
      includeUsage: body.stream_options?.include_usage,
    });
  });

  router.post('/v1/chat/completions', ...inference, async (req, res) => {
    const body = parseBody(chatBody, req.body);
    await serve(req, res, {
      ...body,
      chat: true,
      // The output depends on roles too, and a `[[stop:N]]` marker in any message is found.
      promptText: JSON.stringify(body.messages.map((m) => [m.role, m.content])),
      promptTokens: o.tokenizer.countPrompt({ messages: body.messages }),
      maxTokens: body.max_completion_tokens ?? body.max_tokens,
      includeUsage: body.stream_options?.include_usage,
    });
  });
  return router;
}
