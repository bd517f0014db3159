import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_INPUTS, GENERATED_DIR, generatedDrift } from '../../../scripts/generate-manifests';
import { modelSpecSchema } from '../../../src/models/model-spec';
import { GpuManifestError, gpuManifests, slug } from '../../../src/ops/gpu-manifests';
import { gpuPodsFileSchema } from '../../../src/ops/gpu-pod-settings';
import { freshGeneration } from './support/generate';
import { gpuPodProblems } from './support/gpu-pods';
import { baseSet } from './support/manifest-set';
import { changed, replaceOnce } from './support/mutate';
import { GPU_POD } from './support/gpu-pod-fixture';
import { find, podSpec } from './support/workloads';

/** manifests/base/generated/: what `npm run manifests` writes from the registry, and the GPU pods in it. */
const base = baseSet();
const fresh = freshGeneration();

test('the committed generated manifests equal a fresh `npm run manifests`', () => {
  expect(generatedDrift(GENERATED_DIR, fresh)).toEqual([]);
});

test('every model has one GPU Deployment on its queue and one ScaledObject sized by its slots; the pods carry their GPU', () => {
  expect(gpuPodProblems(base)).toEqual([]);
});

test('a model added to the registry without regenerating is caught', () => {
  const dir = mkdtempSync(join(tmpdir(), 'registry-'));
  try {
    const registry = join(dir, 'models.yaml');
    const text = readFileSync(DEFAULT_INPUTS.registry, 'utf8');
    const second = text
      .slice(text.indexOf('  - name:'))
      .replace('name: llama-3.1-8b', 'name: qwen2.5-7b')
      .replace('gpu_task_queue: gpu-default', 'gpu_task_queue: gpu-qwen');
    writeFileSync(registry, `${text}${second}`);
    const fresh = freshGeneration(registry);
    expect(generatedDrift(GENERATED_DIR, fresh)).toEqual([
      'qwen2-5-7b.yaml: missing',
      'kustomization.yaml: differs from a fresh generation',
    ]);
    // …and the new model is one new file with one Deployment and one ScaledObject on its own queue.
    expect(fresh.get('qwen2-5-7b.yaml')).toMatch(/taskQueue: gpu-qwen/);
    expect(fresh.get('kustomization.yaml')).toMatch(/- llama-3-1-8b.yaml\n {2}- qwen2-5-7b.yaml/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a stale or leftover generated file is caught', () => {
  const dir = mkdtempSync(join(tmpdir(), 'generated-'));
  try {
    cpSync(GENERATED_DIR, dir, { recursive: true });
    const file = join(dir, 'llama-3-1-8b.yaml');
    writeFileSync(
      file,
      replaceOnce(readFileSync(file, 'utf8'), "targetQueueSize: '16'", "targetQueueSize: '4'"),
    );
    writeFileSync(join(dir, 'removed-model.yaml'), '');
    expect(generatedDrift(dir, fresh)).toEqual([
      'llama-3-1-8b.yaml: differs from a fresh generation',
      'removed-model.yaml: no model generates it',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const settings = gpuPodsFileSchema.parse({ defaults: GPU_POD });
const env = { GPU_DRAIN_GRACE_S: 30, GPU_METRICS_PORT: 9465, TEMPORAL_NAMESPACE: 'default' };
const model = (o: Record<string, unknown>) =>
  modelSpecSchema.parse({ protocol: 'openai', base_url: 'http://127.0.0.1:8000', ...o });

test('two models on one queue are refused: a pod serves one model', () => {
  const models = [model({ name: 'a', gpu_task_queue: 'q' }), model({ name: 'b', gpu_task_queue: 'q' })];
  expect(() => gpuManifests(models, settings, env)).toThrow(GpuManifestError);
  expect(() => gpuManifests(models, settings, env)).toThrow(/models a, b share gpu_task_queue q/);
});

test('a model served elsewhere gets a worker-only pod: no model server, no GPU', () => {
  const [file] = gpuManifests(
    [model({ name: 'remote', base_url: 'https://api.example.com', gpu_task_queue: 'q' })],
    settings,
    env,
  );
  const pod = podSpec(file!.docs[0] as never);
  expect(pod.initContainers).toBeUndefined();
  expect(pod.nodeSelector).toBeUndefined();
  expect(JSON.stringify(pod)).not.toMatch(/nvidia/);
});

test('names: model names become DNS labels; settings for unknown models are refused', () => {
  expect(slug('Meta/Llama-3.1:8B')).toBe('meta-llama-3-1-8b');
  expect(() => slug('::')).toThrow(/no usable characters/);
  const withUnknown = gpuPodsFileSchema.parse({ defaults: GPU_POD, models: { nope: { gpus: 2 } } });
  expect(() => gpuManifests([model({ name: 'a' })], withUnknown, env)).toThrow(/no model nope/);
});

test('tensor parallelism over the GPUs of a pod, and settings per model', () => {
  const s = gpuPodsFileSchema.parse({ defaults: GPU_POD, models: { big: { gpus: 4, max_replicas: 2 } } });
  const [file] = gpuManifests([model({ name: 'big', gpu_task_queue: 'q' })], s, env);
  const vllm = podSpec(file!.docs[0] as never).initContainers![0]!;
  expect(vllm.args).toEqual(expect.arrayContaining(['--tensor-parallel-size', '4']));
  expect((file!.docs[1] as { spec: { maxReplicaCount: number } }).spec.maxReplicaCount).toBe(2);
});

const GPU = 'inference-gpu-llama-3-1-8b';
type Break = Parameters<typeof changed<typeof base>>[1];
interface Vllm {
  args: string[];
  resources: { limits: Record<string, unknown> };
  startupProbe: { failureThreshold: number };
  lifecycle: { preStop: { exec: { command: string[] } } };
  volumeMounts: unknown[];
}
const vllmOf = (s: typeof base): Vllm =>
  podSpec(find(s.docs, 'Deployment', GPU)!).initContainers![0]! as unknown as Vllm;

test.each<[string, Break, RegExp]>([
  [
    'a model server on another port than base_url',
    (s) => void (vllmOf(s).args[vllmOf(s).args.indexOf('--port') + 1] = '8001'),
    /vllm listens on 127.0.0.1:8001, base_url says 127.0.0.1:8000/,
  ],
  ['no GPU', (s) => void delete vllmOf(s).resources.limits['nvidia.com/gpu'], /no nvidia.com\/gpu limit/],
  [
    'a startup allowance too short for the weights',
    (s) => void (vllmOf(s).startupProbe.failureThreshold = 30),
    /startupProbe allows 300s/,
  ],
  [
    'a model server that stops before the worker drained',
    (s) => void (vllmOf(s).lifecycle.preStop.exec.command = ['sleep', '20']),
    /preStop sleeps 20s, not longer than the worker's drain 30s/,
  ],
  [
    'a grace period shorter than the longest call',
    (s) => void (find(s.docs, 'Deployment', GPU)!.spec.template.spec.terminationGracePeriodSeconds = 60),
    /terminationGracePeriodSeconds 60 < request_timeout \+ drain 150/,
  ],
  [
    'a second ScaledObject on the queue',
    (s) => void s.docs.push(changed(find(s.docs, 'ScaledObject', GPU)!, (d) => void (d.metadata.name = 'x'))),
    /model llama-3.1-8b \(queue gpu-default\): 2 ScaledObjects, expected 1/,
  ],
  [
    'a target queue size that is not the slots',
    (s) => void (find(s.docs, 'ScaledObject', GPU)!.spec.triggers[0].metadata.targetQueueSize = '8'),
    /targetQueueSize 8, expected gpu_slots_per_worker 16/,
  ],
  ['no /dev/shm', (s) => void (vllmOf(s).volumeMounts = []), /no in-memory emptyDir at \/dev\/shm/],
])('a GPU pod with %s is caught', (_name, breakIt, expected) => {
  expect(gpuPodProblems(changed(base, breakIt)).join('\n')).toMatch(expected);
});
