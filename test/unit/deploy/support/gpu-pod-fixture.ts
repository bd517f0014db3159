/** GPU pod settings for generator tests (the shape of manifests/gpu-pods.yaml `defaults`). */
export const GPU_POD = {
  vllm_image: 'vllm/vllm-openai:v0.10.1.1',
  gpus: 1,
  vllm_args: [],
  vllm_resources: { cpu: '4', memory: '32Gi' },
  worker_resources: { cpu: '100m', memory: '512Mi' },
  shm_size: '8Gi',
  cache_size: '100Gi',
  startup_timeout_s: 1800,
  max_replicas: 4,
  cooldown_s: 900,
  node_selector: { 'nvidia.com/gpu.present': 'true' },
  tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
};
