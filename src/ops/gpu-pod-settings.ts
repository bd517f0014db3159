import { z } from 'zod';

const resources = z.strictObject({
  /** CPU request. */
  cpu: z.string().min(1),
  /** Memory request, also the limit (no overcommit of GPU hosts' memory). */
  memory: z.string().min(1),
});

/** How the pods of one model are built; every field has a default in `defaults`. */
const podSettings = z.strictObject({
  /** Model server image (OpenAI-compatible; its `vllm serve` is the command). */
  vllm_image: z.string().min(1),
  /** GPUs per pod (`nvidia.com/gpu`); above 1, vLLM runs with tensor parallelism over them. */
  gpus: z.number().int().positive(),
  /** Weights vLLM loads, when they differ from the registry's upstream_model (a Hugging Face id or a path). */
  hf_model: z.string().min(1).optional(),
  /** Extra `vllm serve` arguments, e.g. `[--gpu-memory-utilization, '0.92']`. */
  vllm_args: z.array(z.string()),
  /** Requests of the model server container (besides its GPUs). */
  vllm_resources: resources,
  /** Requests of the GPU worker container. */
  worker_resources: resources,
  /** Size of the in-memory /dev/shm (PyTorch's shared memory; NCCL with several GPUs). */
  shm_size: z.string().min(1),
  /** Scratch space for the weights download and compile caches (emptyDir). */
  cache_size: z.string().min(1),
  /** Seconds allowed for the model server to load its weights before the pod is restarted. */
  startup_timeout_s: z.number().int().positive(),
  /** Most replicas KEDA may run (each holds `gpus` GPUs). */
  max_replicas: z.number().int().positive(),
  /** Seconds without backlog before the last replica is removed (scale to zero). */
  cooldown_s: z.number().int().positive(),
  /** Node labels of the GPU node pool. */
  node_selector: z.record(z.string(), z.string()),
  /** Taints of the GPU node pool that these pods tolerate. */
  tolerations: z.array(
    z.strictObject({
      key: z.string().min(1),
      operator: z.enum(['Exists', 'Equal']),
      value: z.string().optional(),
      effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
    }),
  ),
});
export type GpuPodSettings = z.infer<typeof podSettings>;

/** manifests/gpu-pods.yaml: defaults for every model, and per-model overrides by registry name. */
export const gpuPodsFileSchema = z.strictObject({
  defaults: podSettings,
  models: z.record(z.string(), podSettings.partial()).default({}),
});
export type GpuPodsFile = z.infer<typeof gpuPodsFileSchema>;

/** The settings of `model`: its overrides over the defaults. */
export function settingsFor(file: GpuPodsFile, model: string): GpuPodSettings {
  return { ...file.defaults, ...file.models[model] };
}
