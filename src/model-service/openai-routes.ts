import { randomUUID } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { runGeneration, type Engine } from './generation';
import { sendError } from './openai-errors';
import { sseEvent, startSse } from './sse';

const common = {
  model: z.string().min(1),
  max_tokens: z.number().int().positive().optional(),
  temperature: z.number().min(0).max(2).optional(),
  seed: z.number().int().optional(),
  stream: z.boolean().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).optional(),
};
const completionBody = z.object({ ...common, prompt: z.string() });
const chatBody = z.object({
  ...common,
  messages: z
    .array(z.object({ role: z.enum(['system', 'user', 'assistant', 'tool']), content: z.string() }))
    .min(1),
});

/** Options for {@link openAiRoutes}. */
export interface OpenAiRoutesOptions {
  engine: Engine;
  models: string[];
  contextLength: number;
  defaultMaxTokens: number;
}

function invalid(res: Response, err: z.ZodError): void {
  const issue = err.issues[0];
  sendError(res, 400, issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid request', {
    param: issue?.path.join('.') || null,
  });
}

/** `/v1/completions`, `/v1/chat/completions` and `/v1/models`, as vLLM serves them. */
export function openAiRoutes(o: OpenAiRoutesOptions): Router {
  const router = Router();
  const created = Math.floor(Date.now() / 1000);

  router.get('/v1/models', (_req, res) => {
    res.json({
      object: 'list',
      data: o.models.map((id) => ({ id, object: 'model', created, owned_by: 'reference' })),
    });
  });

  const handle = async (req: Request, res: Response, chat: boolean): Promise<void> => {
    const parsed = (chat ? chatBody : completionBody).safeParse(req.body);
    if (!parsed.success) return invalid(res, parsed.error);
    const body = parsed.data as z.infer<typeof completionBody> & Partial<z.infer<typeof chatBody>>;
    if (!o.models.includes(body.model)) {
      return sendError(res, 404, `The model \`${body.model}\` does not exist.`, {
        type: 'NotFoundError',
        code: 'model_not_found',
        param: 'model',
      });
    }
    const tk = o.engine.tokenizer;
    const promptText = chat ? body.messages!.map((m) => m.content).join('\n') : body.prompt;
    const promptTokens = chat ? tk.countChat(body.messages!) : tk.count(body.prompt);
    const maxTokens = body.max_tokens ?? o.defaultMaxTokens;
    if (promptTokens + maxTokens > o.contextLength) {
      return sendError(
        res,
        400,
        `This model's maximum context length is ${o.contextLength} tokens. However, you requested ${promptTokens + maxTokens} tokens (${promptTokens} in the messages, ${maxTokens} in the completion). Please reduce the length of the messages or completion.`,
        { code: 'context_length_exceeded', param: chat ? 'messages' : 'prompt' },
      );
    }
    const id = `${chat ? 'chatcmpl' : 'cmpl'}-${randomUUID().replace(/-/g, '')}`;
    const base = {
      id,
      object: chat ? 'chat.completion.chunk' : 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
    };
    const usage = (completion: number) => ({
      prompt_tokens: promptTokens,
      completion_tokens: completion,
      total_tokens: promptTokens + completion,
    });
    const choice = (piece: string, finish: string | null) =>
      chat
        ? { index: 0, delta: piece ? { content: piece } : {}, finish_reason: finish }
        : { index: 0, text: piece, finish_reason: finish, logprobs: null };

    await runGeneration(o.engine, req, res, {
      model: body.model,
      promptText,
      promptTokens,
      maxTokens,
      temperature: body.temperature,
      seed: body.seed,
      start: body.stream
        ? () => {
            startSse(res);
            if (chat)
              sseEvent(res, {
                ...base,
                choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
              });
          }
        : undefined,
      emit: body.stream ? (piece) => sseEvent(res, { ...base, choices: [choice(piece, null)] }) : undefined,
      finish: ({ text, completionTokens, finishReason }) => {
        if (body.stream) {
          sseEvent(res, { ...base, choices: [choice('', finishReason)] });
          if (body.stream_options?.include_usage)
            sseEvent(res, { ...base, choices: [], usage: usage(completionTokens) });
          sseEvent(res, '[DONE]');
          res.end();
          return;
        }
        res.json({
          id,
          object: chat ? 'chat.completion' : 'text_completion',
          created: base.created,
          model: body.model,
          choices: [
            chat
              ? { index: 0, message: { role: 'assistant', content: text }, finish_reason: finishReason }
              : { index: 0, text, finish_reason: finishReason, logprobs: null },
          ],
          usage: usage(completionTokens),
        });
      },
    });
  };

  router.post('/v1/completions', (req, res) => handle(req, res, false));
  router.post('/v1/chat/completions', (req, res) => handle(req, res, true));
  return router;
}
