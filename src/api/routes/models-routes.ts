import { Router } from 'express';
import type { ModelRegistry } from '../../models/model-registry';

/** GET /v1/models: the models a tenant may use, in OpenAI's list shape. */
export function modelsRoutes(deps: { registry: ModelRegistry }): Router {
  const router = Router();
  router.get('/v1/models', (_req, res) => {
    res.json({
      object: 'list',
      data: deps.registry.list().map((m) => ({
        id: m.name,
        object: 'model',
        owned_by: 'durable-inference',
        context_length: m.context_length,
        protocol: m.protocol,
      })),
    });
  });
  return router;
}
