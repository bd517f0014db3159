import { basename, dirname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { registryFileSchema } from '../../../../src/models/model-spec';
import type { Image } from './dockerfile';
import { entryFileProblem } from './entry-file';
import { envValueProblems, parseEnv, unknownEnvNames } from './env';
import { temporalTriggerProblems } from './keda-temporal';
import {
  type Container,
  appContainers,
  byKind,
  containerEnv,
  containers,
  entrypoint,
  find,
  podSpec,
  resolvePort,
  selects,
  workloads,
} from './workloads';
import type { K8sDoc } from './yaml-docs';

/** Objects one `kubectl apply -k` sends, the Secret they expect, and what the image contains. */
export interface ManifestSet {
  docs: K8sDoc[];
  /** The Secret the user creates outside kustomize, as secret.template.yaml documents it (filled in). */
  secretTemplate: K8sDoc;
  /** What the Dockerfile builds: the image the containers run. */
  image: Image;
}

/** The processes with a health endpoint: the port variable it listens on, and its readiness path. */
const PROCESSES: Record<
  string,
  { portVar: 'API_PORT' | 'ORCHESTRATION_METRICS_PORT' | 'GPU_METRICS_PORT'; ready: string }
> = {
  'dist/src/api/main.js': { portVar: 'API_PORT', ready: '/readyz' },
  'dist/workers/orchestration-worker.js': { portVar: 'ORCHESTRATION_METRICS_PORT', ready: '/healthz' },
  'dist/workers/gpu-worker.js': { portVar: 'GPU_METRICS_PORT', ready: '/healthz' },
};
const GPU_WORKER = 'dist/workers/gpu-worker.js';
const ORCHESTRATION_WORKER = 'dist/workers/orchestration-worker.js';

const label = (d: K8sDoc, c?: Container): string => `${d.kind}/${d.metadata.name}${c ? ` ${c.name}` : ''}`;
const envOf = (s: ManifestSet, c: Container): Record<string, string | undefined> =>
  containerEnv(s.docs, c, s.secretTemplate).env;
/** The config the process in `c` would load (schema defaults filled in), or undefined if invalid. */
const configOf = (s: ManifestSet, c: Container): ReturnType<typeof parseEnv> | undefined => {
  try {
    return parseEnv(envOf(s, c));
  } catch {
    return undefined;
  }
};

/** The model registry a container reads: MODEL_REGISTRY, mounted from a ConfigMap key. */
export function registryFor(
  s: ManifestSet,
  w: K8sDoc,
  c: Container,
): { queues: Set<string>; valueEnvs: Set<string>; problems: string[] } {
  const none = { queues: new Set<string>(), valueEnvs: new Set<string>() };
  const path = envOf(s, c).MODEL_REGISTRY;
  if (!path) return { ...none, problems: [`${label(w, c)}: MODEL_REGISTRY is not set`] };
  const mount = c.volumeMounts?.find((m) => m.mountPath === dirname(path));
  const volume = (podSpec(w).volumes ?? []).find((v) => v.name === mount?.name);
  const cm = volume?.configMap ? find(s.docs, 'ConfigMap', volume.configMap.name) : undefined;
  const text = cm?.data?.[basename(path)];
  if (text === undefined)
    return {
      ...none,
      problems: [`${label(w, c)}: MODEL_REGISTRY ${path} is not mounted from a ConfigMap key`],
    };
  const parsed = registryFileSchema.safeParse(parseYaml(text));
  if (!parsed.success)
    return {
      ...none,
      problems: parsed.error.issues.map((i) => `${path}: ${i.path.join('.')}: ${i.message}`),
    };
  return {
    queues: new Set(parsed.data.models.map((m) => m.gpu_task_queue)),
    valueEnvs: new Set(parsed.data.models.flatMap((m) => (m.auth_header ? [m.auth_header.value_env] : []))),
    problems: [],
  };
}

/** App containers run a compiled dist/….js that the image's build produces from an existing source. */
export function entrypointProblems(s: ManifestSet): string[] {
  return workloads(s.docs).flatMap((w) =>
    appContainers(w).flatMap((c) => {
      if (c.command) return [`${label(w, c)}: sets command, which replaces the image's node`];
      const problem = entryFileProblem(entrypoint(c), s.image);
      return problem ? [`${label(w, c)}: ${problem}`] : [];
    }),
  );
}

/** Every variable an app container gets is in the config schema, and the whole set passes it. */
export function envProblems(s: ManifestSet): string[] {
  return workloads(s.docs).flatMap((w) =>
    appContainers(w).flatMap((c) => {
      const { env, missing } = containerEnv(s.docs, c, s.secretTemplate);
      const models = env.MODEL_REGISTRY ? registryFor(s, w, c).valueEnvs : new Set<string>();
      return [
        ...missing.map((m) => `${label(w, c)}: envFrom ${m} does not exist`),
        ...unknownEnvNames(Object.keys(env), models).map(
          (n) => `${label(w, c)}: env ${n} is not in src/config/schema.ts`,
        ),
        ...envValueProblems(env).map((p) => `${label(w, c)}: config invalid: ${p}`),
      ];
    }),
  );
}

/** The registry parses, and Deployments that name one mount it. */
export function registryProblems(s: ManifestSet): string[] {
  const out = byKind(s.docs, 'Deployment').flatMap((w) =>
    appContainers(w).flatMap((c) => (envOf(s, c).MODEL_REGISTRY ? registryFor(s, w, c).problems : [])),
  );
  return [...new Set(out)];
}

/** Liveness on /healthz, readiness on /readyz (API) or /healthz (workers), on the configured port. */
export function probeProblems(s: ManifestSet): string[] {
  return byKind(s.docs, 'Deployment').flatMap((w) =>
    appContainers(w).flatMap((c) => {
      const proc = PROCESSES[entrypoint(c) ?? ''];
      const cfg = configOf(s, c);
      if (!proc || !cfg) return [];
      const port = cfg[proc.portVar];
      const problems: string[] = [];
      if (!c.ports?.some((p) => p.containerPort === port))
        problems.push(`${label(w, c)}: no containerPort ${port} (${proc.portVar})`);
      const expect = (
        kind: 'livenessProbe' | 'readinessProbe' | 'startupProbe',
        path: string,
        required: boolean,
      ): void => {
        const probe = c[kind]?.httpGet;
        if (!probe) {
          if (required) problems.push(`${label(w, c)}: no HTTP ${kind}`);
          return;
        }
        if (probe.path !== path) problems.push(`${label(w, c)}: ${kind} on ${probe.path}, expected ${path}`);
        if (resolvePort(c, probe.port) !== port)
          problems.push(`${label(w, c)}: ${kind} port ${probe.port} is not ${proc.portVar}=${port}`);
      };
      expect('livenessProbe', '/healthz', true);
      expect('readinessProbe', proc.ready, true);
      expect('startupProbe', '/healthz', false);
      return problems;
    }),
  );
}

/** Queues each GPU worker serves: GPU_TASK_QUEUES, or every queue of its registry. */
function servedQueues(s: ManifestSet, w: K8sDoc, c: Container): string[] {
  const cfg = configOf(s, c);
  const all = [...registryFor(s, w, c).queues];
  return cfg?.GPU_TASK_QUEUES
    ? cfg.GPU_TASK_QUEUES.split(',')
        .map((q) => q.trim())
        .filter(Boolean)
    : all;
}

/** GPU workers drain within their grace period, and together serve every queue of the registry. */
export function gpuWorkerProblems(s: ManifestSet): string[] {
  const problems: string[] = [];
  const served = new Set<string>();
  const declared = new Set<string>();
  for (const w of byKind(s.docs, 'Deployment'))
    for (const c of appContainers(w).filter((x) => entrypoint(x) === GPU_WORKER)) {
      const cfg = configOf(s, c);
      const grace = podSpec(w).terminationGracePeriodSeconds ?? 30;
      if (cfg && grace <= cfg.GPU_DRAIN_GRACE_S)
        problems.push(
          `${label(w)}: terminationGracePeriodSeconds ${grace} <= GPU_DRAIN_GRACE_S ${cfg.GPU_DRAIN_GRACE_S}`,
        );
      const registry = registryFor(s, w, c);
      registry.queues.forEach((q) => declared.add(q));
      for (const q of servedQueues(s, w, c)) {
        served.add(q);
        if (!registry.queues.has(q))
          problems.push(`${label(w, c)}: serves ${q}, which no model in the registry uses`);
      }
    }
  for (const q of declared) if (!served.has(q)) problems.push(`no GPU worker Deployment serves queue ${q}`);
  return problems;
}

/** KEDA ScaledObjects: valid temporal triggers that watch the queue and server their target works on. */
export function scaledObjectProblems(s: ManifestSet): string[] {
  const problems: string[] = [];
  const scaled = new Set<string>();
  for (const so of byKind(s.docs, 'ScaledObject')) {
    const where = label(so);
    const spec = so.spec ?? {};
    const target = find(s.docs, spec.scaleTargetRef?.kind ?? 'Deployment', spec.scaleTargetRef?.name);
    if (!target) {
      problems.push(`${where}: scaleTargetRef ${spec.scaleTargetRef?.name} is not a Deployment here`);
      continue;
    }
    scaled.add(target.metadata.name);
    if (target.spec?.replicas !== undefined)
      problems.push(
        `${where}: ${label(target)} sets spec.replicas, which every apply would reset under KEDA`,
      );
    const min = (spec.minReplicaCount as number | undefined) ?? 0;
    const max = (spec.maxReplicaCount as number | undefined) ?? 100;
    if (min > max) problems.push(`${where}: minReplicaCount ${min} > maxReplicaCount ${max}`);
    const c =
      containers(target).find((x) => x.name === spec.envSourceContainerName) ?? containers(target)[0]!;
    const env = envOf(s, c);
    const cfg = configOf(s, c);
    const process = entrypoint(c);
    const triggers = (spec.triggers ?? []) as { type: string; metadata?: Record<string, string> }[];
    if (!triggers.length) problems.push(`${where}: no triggers`);
    for (const t of triggers) {
      if (t.type !== 'temporal') {
        problems.push(`${where}: trigger type ${t.type}, expected temporal`);
        continue;
      }
      const md = t.metadata ?? {};
      problems.push(...temporalTriggerProblems(md).map((p) => `${where}: ${p}`));
      const fromEnv = (k: string): string | undefined =>
        md[`${k}FromEnv`] ? env[md[`${k}FromEnv`]!] : md[k];
      if (md.endpointFromEnv && !env[md.endpointFromEnv])
        problems.push(`${where}: endpointFromEnv ${md.endpointFromEnv} is not set in ${label(target, c)}`);
      if (!cfg) continue;
      const endpoint = fromEnv('endpoint');
      if (endpoint && endpoint !== cfg.TEMPORAL_ADDRESS)
        problems.push(
          `${where}: endpoint ${endpoint}, but the workers use TEMPORAL_ADDRESS ${cfg.TEMPORAL_ADDRESS}`,
        );
      const namespace = fromEnv('namespace') ?? 'default';
      if (namespace !== cfg.TEMPORAL_NAMESPACE)
        problems.push(
          `${where}: namespace ${namespace}, but the workers use TEMPORAL_NAMESPACE ${cfg.TEMPORAL_NAMESPACE}`,
        );
      const queue = fromEnv('taskQueue');
      const types = (md.queueTypes ?? 'workflow,activity,nexus').split(',').map((x) => x.trim());
      if (process === GPU_WORKER) {
        const served = servedQueues(s, target, c);
        if (!queue || !served.includes(queue))
          problems.push(
            `${where}: watches ${queue}, but ${label(target)} serves ${served.join(', ') || 'nothing'}`,
          );
        if (types.join() !== 'activity')
          problems.push(`${where}: GPU queues hold activity tasks only (queueTypes: activity)`);
      } else if (process === ORCHESTRATION_WORKER) {
        if (queue !== cfg.ORCHESTRATION_TASK_QUEUE)
          problems.push(`${where}: watches ${queue}, but the worker polls ${cfg.ORCHESTRATION_TASK_QUEUE}`);
        if (min < 1)
          problems.push(`${where}: minReplicaCount must be >= 1 (the worker runs the quota sweeper)`);
        if (!types.includes('workflow')) problems.push(`${where}: queueTypes must include workflow`);
      } else problems.push(`${where}: targets ${label(target)}, which runs neither worker`);
    }
  }
  for (const w of byKind(s.docs, 'Deployment'))
    if (appContainers(w).some((c) => entrypoint(c) === GPU_WORKER || entrypoint(c) === ORCHESTRATION_WORKER))
      if (!scaled.has(w.metadata.name)) problems.push(`${label(w)}: no ScaledObject scales this worker`);
  return problems;
}

/**
 * Secure by default: every app container runs with APP_ENV=production set explicitly, and no Secret is
 * applied (the user creates it), so `kubectl apply -k` never sends or overwrites credentials.
 */
export function productionProblems(s: ManifestSet): string[] {
  const problems = byKind(s.docs, 'Secret').map(
    (d) =>
      `${label(d)}: applied by kustomize; secrets come from the Secret the user creates (secret.template.yaml)`,
  );
  for (const w of workloads(s.docs))
    for (const c of appContainers(w)) {
      const appEnv = envOf(s, c).APP_ENV;
      if (appEnv !== 'production')
        problems.push(`${label(w, c)}: APP_ENV=${appEnv ?? '(unset)'}, expected production`);
    }
  return problems;
}

/** Selectors, Service ports and ConfigMap references all point at something that exists. */
export function referenceProblems(s: ManifestSet): string[] {
  const problems: string[] = [];
  const deployments = byKind(s.docs, 'Deployment');
  for (const w of deployments)
    if (!selects(w.spec?.selector?.matchLabels, w))
      problems.push(`${label(w)}: selector does not match its pod labels`);
  for (const svc of byKind(s.docs, 'Service')) {
    const targets = deployments.filter((w) => selects(svc.spec?.selector, w));
    if (!targets.length) problems.push(`${label(svc)}: selects no Deployment`);
    for (const p of (svc.spec?.ports ?? []) as { targetPort?: number | string; port: number }[])
      if (
        targets.length &&
        !targets.some((w) => containers(w).some((c) => resolvePort(c, p.targetPort ?? p.port)))
      )
        problems.push(`${label(svc)}: targetPort ${p.targetPort ?? p.port} is no container port`);
  }
  for (const pdb of byKind(s.docs, 'PodDisruptionBudget'))
    if (!deployments.some((w) => selects(pdb.spec?.selector?.matchLabels, w)))
      problems.push(`${label(pdb)}: selects no Deployment`);
  for (const w of workloads(s.docs)) {
    for (const v of podSpec(w).volumes ?? [])
      if (v.configMap && !find(s.docs, 'ConfigMap', v.configMap.name))
        problems.push(`${label(w)}: volume ConfigMap ${v.configMap.name} does not exist`);
    for (const c of containers(w))
      for (const e of c.env ?? []) {
        const ref = (e.valueFrom as { configMapKeyRef?: { name: string; key: string } } | undefined)
          ?.configMapKeyRef;
        if (ref && find(s.docs, 'ConfigMap', ref.name)?.data?.[ref.key] === undefined)
          problems.push(
            `${label(w, c)}: env ${e.name} refers to missing ConfigMap key ${ref.name}/${ref.key}`,
          );
      }
  }
  return problems;
}

/** Every check above. */
export const allManifestProblems = (s: ManifestSet): string[] => [
  ...entrypointProblems(s),
  ...envProblems(s),
  ...registryProblems(s),
  ...probeProblems(s),
  ...gpuWorkerProblems(s),
  ...scaledObjectProblems(s),
  ...referenceProblems(s),
  ...productionProblems(s),
];
