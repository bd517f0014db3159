import { Router } from 'express';
import { AppError } from '../../errors/app-error';
import type { ModelSpec } from '../../models/model-spec';
import type { ModelRegistry } from '../../models/model-registry';
import { ErrorType } from '../../shared/error-types';

/** GET /v1/models and /v1/models/:model: the models a tenant may use, in OpenAI's shape. */
export function modelsRoutes(deps: { registry: ModelRegistry }): Router {
  const router = Router();
  // OpenAI's `created` is when the model was made available: here, when this API loaded the registry.
  const created = Math.floor(Date.now() / 1000);
  const view = (m: ModelSpec): Record<string, unknown> => ({
    id: m.name,
    object: 'model',
    created,
    owned_by: 'durable-inference',
    context_length: m.context_length,
    protocol: m.protocol,
  });
  router.get('/v1/models', (_req, res) => {
    res.json({ object: 'list', data: deps.registry.list().map(view) });
  });
  router.get('/v1/models/:model', (req, res) => {
    const m = deps.registry.get(String(req.params.model));
    if (!m)
      throw new AppError(ErrorType.NotFound, `no model ${String(req.params.model)}`, { param: 'model' });
    res.json(view(m));
  });
  return router;
}
