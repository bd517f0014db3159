import express, { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Tokenizer } from '../../src/tokenizer/tokenizer';
import { ContextLengthError, ModelNotFoundError } from './errors';
import type { GenerationEngine, GenerationSink } from './generation';
import { sseEvent, startSse } from './sse';
import { trackRequests, type ServiceStats } from './stats';
import { resumeCompletion } from './text-generator';
import { parseBody } from './validation';

/** Body of Triton's generate extension; other parameters are accepted and ignored, as Triton does. */
const generateBody = z.object({
  text_input: z.string(),
  parameters: z
    .looseObject({
      max_tokens: z.number().int().positive().optional(),
      temperature: z.number().min(0).max(2).optional(),
      seed: z.number().int().optional(),
      stream: z.boolean().optional(),
    })
    .optional(),
});

/** Options for {@link kserveRoutes}. */
export interface KserveRoutesOptions {
  engine: GenerationEngine;
  tokenizer: Tokenizer;
  stats: ServiceStats;
  models: readonly string[];
  contextLength: number;
  defaultMaxTokens: number;
  bodyLimit: string;
}

function jsonSink(res: Response, model: string): GenerationSink {
  return {
    start: () => undefined,
    token: () => undefined,
    finish: ({ text }) => void res.json({ model_name: model, model_version: '1', text_output: text }),
  };
}

function streamSink(res: Response, model: string): GenerationSink {
  return {
    start: () => startSse(res),
    token: (piece) => sseEvent(res, { model_name: model, model_version: '1', text_output: piece }),
    finish: () => void res.end(),
  };
}

/**
 * KServe v2 / Triton generate extension: `generate` answers `{ model_name, text_output }` and
 * `generate_stream` one SSE event per token. Like Triton, it reports no token usage: callers count.
 */
export function kserveRoutes(o: KserveRoutesOptions): Router {
  const router = Router();
  const requireModel = (model: string): void => {
    if (!o.models.includes(model))
      throw new ModelNotFoundError(model, `Request for unknown model: '${model}' is not found`);
  };

  router.get('/v2', (_req, res) => {
    res.json({ name: 'reference-model-service', version: '1', extensions: ['generate'] });
  });
  router.get('/v2/health/live', (_req, res) => void res.json({ live: true }));
  router.get('/v2/health/ready', (_req, res) => void res.json({ ready: true }));
  router.get('/v2/models/:model/ready', (req, res) => {
    requireModel(req.params.model);
    res.json({ name: req.params.model, ready: true });
  });
  router.get('/v2/models/:model', (req, res) => {
    requireModel(req.params.model);
    res.json({
      name: req.params.model,
      versions: ['1'],
      platform: 'reference',
      inputs: [{ name: 'text_input', datatype: 'BYTES', shape: [1] }],
      outputs: [{ name: 'text_output', datatype: 'BYTES', shape: [1] }],
    });
  });

  const generate =
    (stream: boolean) =>
    async (req: Request<{ model: string }>, res: Response): Promise<void> => {
      const model = req.params.model;
      requireModel(model);
      const body = parseBody(generateBody, req.body);
      const promptTokens = o.tokenizer.countPrompt({ prompt: body.text_input });
      const maxTokens = body.parameters?.max_tokens ?? o.defaultMaxTokens;
      if (promptTokens + maxTokens > o.contextLength)
        throw new ContextLengthError(o.contextLength, promptTokens, maxTokens, 'text_input');
      const sampling = { temperature: body.parameters?.temperature, seed: body.parameters?.seed };
      // Text + the beginning of its answer (a retried call's continuation) goes on with the answer.
      const start = resumeCompletion(o.tokenizer, { model, prompt: body.text_input, ...sampling });
      const job = { model, promptText: start.prompt, skip: start.skip, promptTokens, maxTokens, ...sampling };
      await o.engine.run(req, res, job, stream ? streamSink(res, model) : jsonSink(res, model));
    };
  const inference = [trackRequests(o.stats), express.json({ limit: o.bodyLimit })];
  router.post('/v2/models/:model/generate', ...inference, generate(false));
  router.post('/v2/models/:model/generate_stream', ...inference, generate(true));
  return router;
}
