import type { K8sDoc } from './yaml-docs';

/** The application image (Dockerfile), whatever registry and tag an overlay gives it. */
export const isAppImage = (image: unknown): boolean =>
  typeof image === 'string' && /(^|\/)durable-inference([:@]|$)/.test(image);

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
}
export interface Volume {
  name: string;
  configMap?: { name: string };
  secret?: { secretName: string };
  emptyDir?: object;
}
export interface PodSpec {
  containers?: Container[];
  /** Init containers; those with restartPolicy Always are sidecars (the GPU pods' model server). */
  initContainers?: Container[];
  volumes?: Volume[];
  terminationGracePeriodSeconds?: number;
  [k: string]: unknown;
}
export interface Probe {
  httpGet?: { path?: string; port: number | string };
}

export const byKind = (docs: K8sDoc[], kind: string): K8sDoc[] => docs.filter((d) => d.kind === kind);
export const find = (docs: K8sDoc[], kind: string, name: string): K8sDoc | undefined =>
  docs.find((d) => d.kind === kind && d.metadata?.name === name);

/** Deployments and Jobs: the objects that run pods. */
export const workloads = (docs: K8sDoc[]): K8sDoc[] =>
  docs.filter((d) => d.kind === 'Deployment' || d.kind === 'Job');
export const podSpec = (w: K8sDoc): PodSpec => (w.spec?.template?.spec ?? {}) as PodSpec;
export const containers = (w: K8sDoc): Container[] => podSpec(w).containers ?? [];
/** Containers and init containers (sidecars included): everything that runs in the pod. */
export const allContainers = (w: K8sDoc): Container[] => [
  ...(podSpec(w).initContainers ?? []),
  ...containers(w),
];
export const appContainers = (w: K8sDoc): Container[] => containers(w).filter((c) => isAppImage(c.image));

/** The compiled file an app container runs (the image's entry point is `node`): `dist/….js`. */
export const entrypoint = (c: Container): string | undefined => c.args?.[0];

/**
 * A container's environment as the kubelet would assemble it: envFrom ConfigMaps and Secrets, then
 * env. Secrets come from `docs` or, when the manifests do not carry them, from `secretTemplate`.
 * `missing` lists references to objects that exist in neither.
 */
export function containerEnv(
  docs: K8sDoc[],
  c: Container,
  secretTemplate?: K8sDoc,
): { env: Record<string, string | undefined>; missing: string[] } {
  const env: Record<string, string | undefined> = {};
  const missing: string[] = [];
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) {
      const cm = find(docs, 'ConfigMap', from.configMapRef.name);
      if (!cm) missing.push(`ConfigMap ${from.configMapRef.name}`);
      Object.assign(env, cm?.data ?? {});
    }
    if (from.secretRef) {
      const name = from.secretRef.name;
      const secret =
        find(docs, 'Secret', name) ?? (secretTemplate?.metadata.name === name ? secretTemplate : undefined);
      if (!secret) missing.push(`Secret ${name}`);
      Object.assign(env, secret?.stringData ?? {});
      for (const [k, v] of Object.entries(secret?.data ?? {})) env[k] = Buffer.from(v, 'base64').toString();
    }
  }
  for (const e of c.env ?? []) env[e.name] = e.value;
  return { env, missing };
}

/** The containerPort a probe or Service targets, by number or by port name. */
export function resolvePort(c: Container, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return c.ports?.some((p) => p.containerPort === port) ? port : undefined;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

/** Whether every selector label is on the pod template of `w`. */
export const selects = (selector: Record<string, string> | undefined, w: K8sDoc): boolean => {
  const labels = (w.spec?.template?.metadata?.labels ?? {}) as Record<string, string>;
  return (
    !!selector &&
    Object.keys(selector).length > 0 &&
    Object.entries(selector).every(([k, v]) => labels[k] === v)
  );
};
