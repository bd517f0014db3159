import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { modelSpecSchema, registryFileSchema, type ModelSpec } from './model-spec';

/** Thrown when the registry file is missing or invalid; names the file and the offending entry. */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
}

/** The models this deployment serves. Immutable once loaded. */
export class ModelRegistry {
  private readonly byName: Map<string, ModelSpec>;

  constructor(models: ModelSpec[]) {
    this.byName = new Map();
    for (const m of models) {
      if (this.byName.has(m.name)) throw new RegistryError(`model ${m.name} is declared twice`);
      this.byName.set(m.name, m);
    }
  }

  get(name: string): ModelSpec | undefined {
    return this.byName.get(name);
  }

  list(): ModelSpec[] {
    return [...this.byName.values()];
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** Distinct GPU task queues, each with the models it serves. */
  queues(): Map<string, ModelSpec[]> {
    const out = new Map<string, ModelSpec[]>();
    for (const m of this.byName.values())
      out.set(m.gpu_task_queue, [...(out.get(m.gpu_task_queue) ?? []), m]);
    return out;
  }
}

/** The registry used when MODEL_REGISTRY is unset: the reference model service's two models. */
export function defaultRegistry(referenceUrl: string): ModelRegistry {
  return new ModelRegistry(
    ['ref-small', 'ref-large'].map((name) =>
      modelSpecSchema.parse({ name, protocol: 'openai', base_url: referenceUrl, request_timeout_ms: 60_000 }),
    ),
  );
}

/** Reads a YAML or JSON registry file. */
export function loadRegistryFile(path: string): ModelRegistry {
  let raw: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    raw = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new RegistryError(`cannot read model registry ${path}: ${(err as Error).message}`);
  }
  const parsed = registryFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new RegistryError(`invalid model registry ${path}: ${issues}`);
  }
  return new ModelRegistry(parsed.data.models);
}

/** MODEL_REGISTRY if set, else the default registry. */
export function loadRegistry(cfg: { MODEL_REGISTRY?: string; REFERENCE_MODEL_URL: string }): ModelRegistry {
  return cfg.MODEL_REGISTRY ? loadRegistryFile(cfg.MODEL_REGISTRY) : defaultRegistry(cfg.REFERENCE_MODEL_URL);
}
