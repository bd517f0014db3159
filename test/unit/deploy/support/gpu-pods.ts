import { parse as parseYaml } from 'yaml';
import { type ModelSpec, registryFileSchema } from '../../../../src/models/model-spec';
import { loopbackPort } from '../../../../src/ops/gpu-manifests';
import type { ManifestSet } from './manifest-checks';
import { type Container, allContainers, byKind, containerEnv, containers, find, podSpec } from './workloads';
import type { K8sDoc } from './yaml-docs';

const GPU_WORKER = 'dist/workers/gpu-worker.js';
/** Weights of a large model take this long to download and load; the startupProbe must wait as long. */
export const MIN_STARTUP_S = 1800;

interface SidecarContainer extends Container {
  restartPolicy?: string;
  resources?: { limits?: Record<string, unknown>; requests?: Record<string, unknown> };
  lifecycle?: { preStop?: { exec?: { command?: string[] } } };
  startupProbe?: Container['startupProbe'] & { periodSeconds?: number; failureThreshold?: number };
}

const registryOf = (s: ManifestSet): ModelSpec[] => {
  const text = find(s.docs, 'ConfigMap', 'inference-models')?.data?.['models.yaml'];
  const parsed = registryFileSchema.safeParse(parseYaml(text ?? ''));
  return parsed.success ? parsed.data.models : [];
};
const label = (d: K8sDoc): string => `${d.kind}/${d.metadata.name}`;
const sleepOf = (c: SidecarContainer): number => {
  const cmd = c.lifecycle?.preStop?.exec?.command ?? [];
  return cmd[0] === 'sleep' ? Number(cmd[1]) : 0;
};

/**
 * Every model of the registry has exactly one GPU Deployment, serving its queue alone, and exactly
 * one ScaledObject on that queue sized by its slots. A model served on localhost has its model server
 * in the pod: on the base_url's port, with GPUs, on GPU nodes, a startup allowance for the weights,
 * an in-memory /dev/shm, and it outlives the worker's drain; the grace period covers the longest call.
 */
export function gpuPodProblems(s: ManifestSet): string[] {
  const problems: string[] = [];
  const deployments = byKind(s.docs, 'Deployment').filter((w) =>
    containers(w).some((c) => c.args?.[0] === GPU_WORKER),
  );
  for (const spec of registryOf(s)) {
    const queue = spec.gpu_task_queue;
    const where = `model ${spec.name} (queue ${queue})`;
    const serving = deployments.filter((w) => {
      const c = containers(w).find((x) => x.args?.[0] === GPU_WORKER)!;
      return containerEnv(s.docs, c, s.secretTemplate).env.GPU_TASK_QUEUES === queue;
    });
    const scalers = byKind(s.docs, 'ScaledObject').filter((so) =>
      ((so.spec?.triggers ?? []) as { metadata?: Record<string, string> }[]).some(
        (t) => t.metadata?.taskQueue === queue,
      ),
    );
    if (serving.length !== 1)
      problems.push(`${where}: ${serving.length} GPU Deployments with GPU_TASK_QUEUES=${queue}, expected 1`);
    if (scalers.length !== 1) problems.push(`${where}: ${scalers.length} ScaledObjects, expected 1`);
    for (const so of scalers) {
      const md = so.spec.triggers[0].metadata as Record<string, string>;
      if (md.targetQueueSize !== String(spec.gpu_slots_per_worker))
        problems.push(
          `${label(so)}: targetQueueSize ${md.targetQueueSize}, expected gpu_slots_per_worker ${spec.gpu_slots_per_worker}`,
        );
      if (md.activationTargetQueueSize === undefined)
        problems.push(`${label(so)}: no activationTargetQueueSize`);
    }
    const w = serving[0];
    if (!w) continue;
    const worker = containers(w).find((x) => x.args?.[0] === GPU_WORKER)!;
    const drain = Number(containerEnv(s.docs, worker, s.secretTemplate).env.GPU_DRAIN_GRACE_S ?? 30);
    const grace = podSpec(w).terminationGracePeriodSeconds ?? 30;
    const longest = Math.ceil(spec.request_timeout_ms / 1000) + drain;
    if (grace < longest)
      problems.push(
        `${label(w)}: terminationGracePeriodSeconds ${grace} < request_timeout + drain ${longest}`,
      );
    const port = loopbackPort(spec);
    if (port === undefined) continue;
    const pod = podSpec(w);
    const all: SidecarContainer[] = allContainers(w);
    const server = all.find((c) => c.image?.startsWith('vllm/vllm-openai'));
    if (!server) {
      problems.push(`${label(w)}: ${spec.name} is served on localhost, but the pod has no vllm/vllm-openai`);
      continue;
    }
    const args = server.args ?? [];
    const arg = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
    if (arg('--port') !== String(port) || arg('--host') !== '127.0.0.1')
      problems.push(
        `${label(w)}: vllm listens on ${arg('--host')}:${arg('--port')}, base_url says 127.0.0.1:${port}`,
      );
    if (arg('--served-model-name') !== (spec.upstream_model ?? spec.name))
      problems.push(
        `${label(w)}: vllm serves ${arg('--served-model-name')}, the worker asks for ${spec.upstream_model ?? spec.name}`,
      );
    if (!(Number(server.resources?.limits?.['nvidia.com/gpu']) >= 1))
      problems.push(`${label(w)}: vllm has no nvidia.com/gpu limit`);
    if (!pod.nodeSelector || !(pod.tolerations as unknown[] | undefined)?.length)
      problems.push(`${label(w)}: no nodeSelector and tolerations for GPU nodes`);
    const startup = server.startupProbe;
    const startupS = (startup?.periodSeconds ?? 10) * (startup?.failureThreshold ?? 3);
    if (startupS < MIN_STARTUP_S)
      problems.push(
        `${label(w)}: vllm startupProbe allows ${startupS}s, weights need up to ${MIN_STARTUP_S}s`,
      );
    const shm = server.volumeMounts?.find((m) => m.mountPath === '/dev/shm');
    const shmVolume = pod.volumes?.find((v) => v.name === shm?.name) as { emptyDir?: { medium?: string } };
    if (shmVolume?.emptyDir?.medium !== 'Memory')
      problems.push(`${label(w)}: vllm has no in-memory emptyDir at /dev/shm`);
    if (sleepOf(server) <= drain)
      problems.push(
        `${label(w)}: vllm preStop sleeps ${sleepOf(server)}s, not longer than the worker's drain ${drain}s`,
      );
    if (sleepOf(server) >= grace)
      problems.push(
        `${label(w)}: vllm preStop sleep ${sleepOf(server)}s >= terminationGracePeriodSeconds ${grace}`,
      );
  }
  return problems;
}
