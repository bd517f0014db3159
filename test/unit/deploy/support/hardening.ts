import type { ManifestSet } from './manifest-checks';
import { allContainers, byKind, isAppImage, podSpec, workloads } from './workloads';
import type { K8sDoc } from './yaml-docs';

interface Hardened {
  name: string;
  image?: string;
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[] };
    seccompProfile?: { type?: string };
  };
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  volumeMounts?: { mountPath: string }[];
}
interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

const label = (d: K8sDoc, c?: { name: string }): string =>
  `${d.kind}/${d.metadata.name}${c ? ` ${c.name}` : ''}`;
const podLabels = (w: K8sDoc): Record<string, string> =>
  (w.spec?.template?.metadata?.labels ?? {}) as Record<string, string>;

/** Whether a label selector (matchLabels and In/NotIn/Exists expressions) selects `labels`. */
export function matches(sel: Selector | undefined, labels: Record<string, string>): boolean {
  if (!sel) return false;
  const byLabel = Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpr = (sel.matchExpressions ?? []).every((e) => {
    const v = labels[e.key];
    if (e.operator === 'In') return v !== undefined && (e.values ?? []).includes(v);
    if (e.operator === 'NotIn') return v === undefined || !(e.values ?? []).includes(v);
    if (e.operator === 'Exists') return v !== undefined;
    return v === undefined;
  });
  return byLabel && byExpr;
}

/** PodDisruptionBudgets these Deployments must have (the ones that serve without pause). */
const NEED_PDB = ['inference-api', 'inference-orchestration-worker'];

/**
 * Every pod: non-root with a user id, seccomp RuntimeDefault; every container (sidecars included):
 * read-only root filesystem, no privilege escalation, all capabilities dropped, CPU and memory
 * requests and a memory limit; a writable /tmp from an emptyDir for the app image (the one writable place under a read-only root).
 * Every pod is under a NetworkPolicy for both ingress and egress; API and orchestration worker have a PDB.
 */
export function hardeningProblems(s: ManifestSet): string[] {
  const problems: string[] = [];
  const policies = byKind(s.docs, 'NetworkPolicy');
  for (const w of workloads(s.docs)) {
    const pod = podSpec(w) as { securityContext?: Hardened['securityContext'] };
    const psc = pod.securityContext ?? {};
    if (psc.runAsNonRoot !== true) problems.push(`${label(w)}: runAsNonRoot is not true`);
    for (const c of allContainers(w) as Hardened[]) {
      const sc = c.securityContext ?? {};
      const where = label(w, c);
      if (!((sc.runAsUser ?? psc.runAsUser ?? 0) > 0)) problems.push(`${where}: no non-zero runAsUser`);
      if ((sc.seccompProfile ?? psc.seccompProfile)?.type !== 'RuntimeDefault')
        problems.push(`${where}: seccompProfile is not RuntimeDefault`);
      if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: root filesystem is writable`);
      if (sc.allowPrivilegeEscalation !== false)
        problems.push(`${where}: allowPrivilegeEscalation is not false`);
      if (!sc.capabilities?.drop?.includes('ALL')) problems.push(`${where}: capabilities do not drop ALL`);
      const r = c.resources ?? {};
      if (!r.requests?.cpu || !r.requests?.memory) problems.push(`${where}: no CPU and memory requests`);
      if (!r.limits?.memory) problems.push(`${where}: no memory limit`);
      if (isAppImage(c.image) && !c.volumeMounts?.some((m) => m.mountPath === '/tmp'))
        problems.push(`${where}: no writable /tmp`);
    }
    const types = new Set(
      policies
        .filter((p) => matches(p.spec?.podSelector as Selector, podLabels(w)))
        .flatMap((p) => (p.spec?.policyTypes ?? ['Ingress']) as string[]),
    );
    for (const t of ['Ingress', 'Egress'])
      if (!types.has(t)) problems.push(`${label(w)}: no NetworkPolicy restricts its ${t.toLowerCase()}`);
  }
  for (const name of NEED_PDB) {
    const w = byKind(s.docs, 'Deployment').find((d) => d.metadata.name === name);
    if (
      w &&
      !byKind(s.docs, 'PodDisruptionBudget').some((p) => matches(p.spec?.selector as Selector, podLabels(w)))
    )
      problems.push(`${label(w)}: no PodDisruptionBudget`);
  }
  return problems;
}
