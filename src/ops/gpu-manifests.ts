import type { ModelSpec } from '../models/model-spec';
import { type GpuPodsFile, type GpuPodSettings, settingsFor } from './gpu-pod-settings';

/** A registry or settings file the GPU manifests cannot be generated from. */
export class GpuManifestError extends Error {
  override readonly name = 'GpuManifestError';
}

/** What the GPU pods take from the environment the workers get (manifests/base/config.env). */
export interface GpuPodEnv {
  /** Seconds the worker drains on SIGTERM. */
  GPU_DRAIN_GRACE_S: number;
  /** Port of the worker's /metrics and /healthz. */
  GPU_METRICS_PORT: number;
  /** The Temporal namespace KEDA reads the backlog from. */
  TEMPORAL_NAMESPACE: string;
}

/** One generated file: its name under manifests/base/generated/ and its objects. */
export interface GeneratedFile {
  file: string;
  model: string;
  docs: Record<string, unknown>[];
}

/**
 * Seconds the model server keeps serving after SIGTERM reached the pod, beyond the worker's drain:
 * the worker reports its last results (or hands calls back) over localhost before the server stops.
 */
export const MODEL_SERVER_STOP_MARGIN_S = 15;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
/** Where the pods mount the registry (MODEL_REGISTRY in config.env). */
const REGISTRY_DIR = '/etc/inference';

/** A DNS-1123 label from a model name (`Llama-3.1:8b` → `llama-3-1-8b`). */
export function slug(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (!s) throw new GpuManifestError(`model ${name}: no usable characters for a Kubernetes name`);
  return s.slice(0, 40).replace(/-+$/, '');
}

/** The port of a model served inside the pod, or undefined when its base_url is another host. */
export function loopbackPort(spec: ModelSpec): number | undefined {
  const url = new URL(spec.base_url);
  if (!LOOPBACK.has(url.hostname)) return undefined;
  return Number(url.port || (url.protocol === 'https:' ? 443 : 80));
}

/**
 * The model server beside the worker: vLLM bound to localhost, so only the worker reaches it. It is a
 * native sidecar (an init container with restartPolicy Always, Kubernetes >= 1.29): the worker starts
 * polling only once the startupProbe says the weights are loaded, and on termination the kubelet stops
 * the worker first. The preStop sleep keeps it serving past the worker's drain where that ordering
 * does not hold.
 */
function modelServer(spec: ModelSpec, s: GpuPodSettings, port: number, env: GpuPodEnv) {
  const served = spec.upstream_model ?? spec.name;
  const health = (timeout: number) => ({
    exec: {
      command: [
        'python3',
        '-c',
        `import urllib.request; urllib.request.urlopen('http://127.0.0.1:${port}/health', timeout=${timeout})`,
      ],
    },
  });
  return {
    name: 'vllm',
    image: s.vllm_image,
    restartPolicy: 'Always',
    command: ['vllm', 'serve'],
    args: [
      s.hf_model ?? served,
      '--served-model-name',
      served,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--max-model-len',
      String(spec.context_length),
      ...(s.gpus > 1 ? ['--tensor-parallel-size', String(s.gpus)] : []),
      ...s.vllm_args,
    ],
    env: [
      // Gated models need a token; optional, so open models start without the key in the Secret.
      {
        name: 'HF_TOKEN',
        valueFrom: { secretKeyRef: { name: 'inference-secrets', key: 'HF_TOKEN', optional: true } },
      },
      // Read-only root filesystem: every cache goes to the /cache emptyDir.
      { name: 'HOME', value: '/cache' },
      { name: 'HF_HOME', value: '/cache/huggingface' },
      { name: 'XDG_CACHE_HOME', value: '/cache' },
      { name: 'VLLM_NO_USAGE_STATS', value: '1' },
      { name: 'DO_NOT_TRACK', value: '1' },
    ],
    // Weights load for minutes (tens of GB): up to startup_timeout_s before the kubelet gives up.
    startupProbe: {
      ...health(5),
      periodSeconds: 10,
      timeoutSeconds: 8,
      failureThreshold: Math.ceil(s.startup_timeout_s / 10),
    },
    readinessProbe: { ...health(3), periodSeconds: 10, timeoutSeconds: 5 },
    livenessProbe: { ...health(5), periodSeconds: 15, timeoutSeconds: 8, failureThreshold: 4 },
    lifecycle: {
      preStop: {
        exec: { command: ['sleep', String(env.GPU_DRAIN_GRACE_S + MODEL_SERVER_STOP_MARGIN_S)] },
      },
    },
    resources: {
      requests: { cpu: s.vllm_resources.cpu, memory: s.vllm_resources.memory },
      limits: { memory: s.vllm_resources.memory, 'nvidia.com/gpu': s.gpus },
    },
    volumeMounts: [
      { name: 'dshm', mountPath: '/dev/shm' },
      { name: 'cache', mountPath: '/cache' },
      { name: 'tmp', mountPath: '/tmp' },
    ],
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
  };
}

/** The GPU worker: serves this model's queue only, calling the model server on localhost. */
function worker(spec: ModelSpec, s: GpuPodSettings, env: GpuPodEnv) {
  const probe = { httpGet: { path: '/healthz', port: 'metrics' } };
  return {
    name: 'worker',
    image: 'durable-inference',
    args: ['dist/workers/gpu-worker.js'],
    env: [{ name: 'GPU_TASK_QUEUES', value: spec.gpu_task_queue }],
    ports: [{ name: 'metrics', containerPort: env.GPU_METRICS_PORT }],
    envFrom: [{ configMapRef: { name: 'inference-config' } }, { secretRef: { name: 'inference-secrets' } }],
    volumeMounts: [
      { name: 'models', mountPath: REGISTRY_DIR, readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
    ],
    startupProbe: { ...probe, periodSeconds: 2, failureThreshold: 60 },
    readinessProbe: { ...probe, periodSeconds: 10 },
    livenessProbe: { ...probe, periodSeconds: 10, timeoutSeconds: 3 },
    resources: {
      requests: { cpu: s.worker_resources.cpu, memory: s.worker_resources.memory },
      limits: { memory: s.worker_resources.memory },
    },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
  };
}

/**
 * SIGTERM to SIGKILL: the longest call (request_timeout_ms) plus the worker's drain. The model server
 * outlives the worker's drain by MODEL_SERVER_STOP_MARGIN_S, well within it.
 */
export const terminationGraceS = (spec: ModelSpec, env: GpuPodEnv): number =>
  Math.ceil(spec.request_timeout_ms / 1000) + env.GPU_DRAIN_GRACE_S;

function deployment(spec: ModelSpec, s: GpuPodSettings, env: GpuPodEnv, name: string) {
  const port = loopbackPort(spec);
  const labels = {
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/component': 'gpu-worker',
    'durable-inference/model': slug(spec.name),
  };
  const local = port !== undefined;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels },
    // No spec.replicas: KEDA owns it (an apply must not reset it).
    spec: {
      selector: { matchLabels: { 'app.kubernetes.io/name': name } },
      // A new pod loads its weights before an old one goes: no capacity dip during a rollout.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: {
          labels,
          annotations: {
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(env.GPU_METRICS_PORT),
            'prometheus.io/path': '/metrics',
          },
        },
        spec: {
          terminationGracePeriodSeconds: terminationGraceS(spec, env),
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            fsGroup: 1000,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          ...(local
            ? {
                nodeSelector: s.node_selector,
                tolerations: s.tolerations,
                initContainers: [modelServer(spec, s, port, env)],
              }
            : {}),
          containers: [worker(spec, s, env)],
          volumes: [
            { name: 'models', configMap: { name: 'inference-models' } },
            { name: 'tmp', emptyDir: {} },
            ...(local
              ? [
                  { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: s.shm_size } },
                  { name: 'cache', emptyDir: { sizeLimit: s.cache_size } },
                ]
              : []),
          ],
        },
      },
    },
  };
}

function scaledObject(spec: ModelSpec, s: GpuPodSettings, env: GpuPodEnv, name: string) {
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: {
      name,
      labels: {
        'app.kubernetes.io/name': name,
        'app.kubernetes.io/component': 'gpu-worker',
        'durable-inference/model': slug(spec.name),
      },
    },
    spec: {
      // endpointFromEnv is read from this container's environment (inference-config).
      scaleTargetRef: { name, envSourceContainerName: 'worker' },
      // No GPU held while nothing waits; the first queued call activates the Deployment.
      minReplicaCount: 0,
      maxReplicaCount: s.max_replicas,
      pollingInterval: 10,
      cooldownPeriod: s.cooldown_s,
      advanced: {
        horizontalPodAutoscalerConfig: {
          behavior: {
            // The backlog counts waiting calls, not running ones: a drained queue with busy workers
            // reads as "fewer replicas", so replicas go one at a time, slowly.
            scaleDown: {
              stabilizationWindowSeconds: 300,
              policies: [{ type: 'Pods', value: 1, periodSeconds: 120 }],
            },
          },
        },
      },
      triggers: [
        {
          type: 'temporal',
          metadata: {
            endpointFromEnv: 'TEMPORAL_ADDRESS',
            namespace: env.TEMPORAL_NAMESPACE,
            taskQueue: spec.gpu_task_queue,
            // Model calls are activity tasks; one replica runs gpu_slots_per_worker at once.
            queueTypes: 'activity',
            targetQueueSize: String(spec.gpu_slots_per_worker),
            activationTargetQueueSize: '0',
          },
        },
      ],
    },
  };
}

/**
 * One Deployment + ScaledObject per model of the registry, in registry order. A model whose base_url
 * is on localhost gets its model server (vLLM) in the pod, on GPU nodes; any other is called where it
 * is (a worker-only pod). Each model needs its own GPU task queue: a pod serves one model.
 */
export function gpuManifests(models: ModelSpec[], settings: GpuPodsFile, env: GpuPodEnv): GeneratedFile[] {
  const byQueue = new Map<string, string[]>();
  for (const m of models) byQueue.set(m.gpu_task_queue, [...(byQueue.get(m.gpu_task_queue) ?? []), m.name]);
  for (const [queue, names] of byQueue)
    if (names.length > 1)
      throw new GpuManifestError(
        `models ${names.join(', ')} share gpu_task_queue ${queue}: a GPU pod serves one model, so give each its own queue`,
      );
  const unknown = Object.keys(settings.models).filter((n) => !models.some((m) => m.name === n));
  if (unknown.length)
    throw new GpuManifestError(`gpu-pods.yaml: no model ${unknown.join(', ')} in the registry`);
  const names = new Map<string, string>();
  return models.map((spec) => {
    const file = slug(spec.name);
    if (names.has(file))
      throw new GpuManifestError(`models ${names.get(file)} and ${spec.name} map to the same name ${file}`);
    names.set(file, spec.name);
    const s = settingsFor(settings, spec.name);
    const name = `inference-gpu-${file}`;
    return {
      file: `${file}.yaml`,
      model: spec.name,
      docs: [deployment(spec, s, env, name), scaledObject(spec, s, env, name)],
    };
  });
}
