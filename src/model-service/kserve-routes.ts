import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { runGeneration, type Engine } from './generation';
import { sseEvent, startSse } from './sse';

const generateBody = z.object({
  text_input: z.string(),
  parameters: z
    .object({
      max_tokens: z.number().int().positive().optional(),
      temperature: z.number().min(0).optional(),
      stream: z.boolean().optional(),
    })
    .optional(),
});

/** KServe v2 / Triton generate extension. Like Triton, it reports no token usage. */
export function kserveRoutes(o: {
  engine: Engine;
  models: string[];
  contextLength: number;
  defaultMaxTokens: number;
}): Router {
  const router = Router();
  const fail = (res: Response, status: number, error: string): void =>
    void res.status(status).json({ error });

  router.get('/v2/health/ready', (_req, res) => void res.json({ ready: true }));
  router.get('/v2/models/:model', (req, res) => {
    if (!o.models.includes(req.params.model))
      return fail(res, 404, `Request for unknown model: '${req.params.model}' is not found`);
    res.json({
      name: req.params.model,
      platform: 'reference',
      versions: ['1'],
      inputs: [{ name: 'text_input', datatype: 'BYTES', shape: [1] }],
      outputs: [{ name: 'text_output', datatype: 'BYTES', shape: [1] }],
    });
  });

  const handle = async (req: Request, res: Response, stream: boolean): Promise<void> => {
    const model = String(req.params.model);
    if (!o.models.includes(model))
      return fail(res, 404, `Request for unknown model: '${model}' is not found`);
    const parsed = generateBody.safeParse(req.body);
    if (!parsed.success)
      return fail(
        res,
        400,
        `invalid request: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
      );
    const promptTokens = o.engine.tokenizer.count(parsed.data.text_input);
    const maxTokens = parsed.data.parameters?.max_tokens ?? o.defaultMaxTokens;
    if (promptTokens + maxTokens > o.contextLength) {
      return fail(
        res,
        400,
        `input length ${promptTokens} + max_tokens ${maxTokens} exceeds the context length ${o.contextLength}`,
      );
    }
    await runGeneration(o.engine, req, res, {
      model,
      promptText: parsed.data.text_input,
      promptTokens,
      maxTokens,
      temperature: parsed.data.parameters?.temperature,
      start: stream ? () => startSse(res) : undefined,
      emit: stream ? (piece) => sseEvent(res, { model_name: model, text_output: piece }) : undefined,
      finish: ({ text }) => {
        if (stream) return void res.end();
        res.json({ model_name: model, model_version: '1', text_output: text });
      },
    });
  };
  router.post('/v2/models/:model/generate', (req, res) => handle(req, res, false));
  router.post('/v2/models/:model/generate_stream', (req, res) => handle(req, res, true));
  return router;
}
