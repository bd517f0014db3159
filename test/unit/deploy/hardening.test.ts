import { relative } from 'node:path';
import { hardeningProblems, matches } from './support/hardening';
import { KUBECTL, baseSet, renderedSet } from './support/manifest-set';
import { changed } from './support/mutate';
import { OVERLAYS, ROOT } from './support/paths';
import { find, podSpec } from './support/workloads';
import type { K8sDoc } from './support/yaml-docs';

/** Every pod spec the base and each rendered overlay would run is hardened (support/hardening.ts). */
const base = baseSet();

test('the base: every pod and container hardened, NetworkPolicies both ways, PDBs', () => {
  expect(hardeningProblems(base)).toEqual([]);
  expect(base.docs.filter((d) => d.kind === 'NetworkPolicy').length).toBeGreaterThan(0);
});

(KUBECTL ? test : test.skip).each(OVERLAYS.map((d) => [relative(ROOT, d), d]))(
  '%s as kubectl kustomize renders it',
  (_n, dir) => {
    expect(hardeningProblems(renderedSet(KUBECTL!, dir))).toEqual([]);
  },
);

test('selectors: matchLabels and In / NotIn / Exists', () => {
  const labels = { a: '1', b: '2' };
  expect(matches({ matchLabels: { a: '1' } }, labels)).toBe(true);
  expect(matches({ matchExpressions: [{ key: 'b', operator: 'In', values: ['2', '3'] }] }, labels)).toBe(
    true,
  );
  expect(matches({ matchExpressions: [{ key: 'b', operator: 'NotIn', values: ['2'] }] }, labels)).toBe(false);
  expect(matches({ matchExpressions: [{ key: 'c', operator: 'Exists' }] }, labels)).toBe(false);
  expect(matches(undefined, labels)).toBe(false);
});

const GPU = 'inference-gpu-llama-3-1-8b';
const pod = (s: typeof base, kind: string, name: string): any => podSpec(find(s.docs, kind, name)!);
type Break = (s: typeof base) => void;

test.each<[string, Break, RegExp]>([
  [
    'a pod that may run as root',
    (s) => void delete pod(s, 'Deployment', 'inference-api').securityContext.runAsNonRoot,
    /Deployment\/inference-api: runAsNonRoot is not true/,
  ],
  [
    'a writable root filesystem in the model server',
    (s) => void (pod(s, 'Deployment', GPU).initContainers[0].securityContext.readOnlyRootFilesystem = false),
    /inference-gpu-llama-3-1-8b vllm: root filesystem is writable/,
  ],
  [
    'capabilities kept',
    (s) => void (pod(s, 'Job', 'inference-migrate').containers[0].securityContext.capabilities.drop = []),
    /Job\/inference-migrate migrate: capabilities do not drop ALL/,
  ],
  [
    'privilege escalation allowed',
    (s) => void delete pod(s, 'Deployment', GPU).containers[0].securityContext.allowPrivilegeEscalation,
    /worker: allowPrivilegeEscalation is not false/,
  ],
  [
    'no seccomp profile',
    (s) => void delete pod(s, 'Deployment', 'inference-api').securityContext.seccompProfile,
    /inference-api api: seccompProfile is not RuntimeDefault/,
  ],
  [
    'a container without requests',
    (s) =>
      void delete pod(s, 'Deployment', 'inference-orchestration-worker').containers[0].resources.requests,
    /orchestration-worker worker: no CPU and memory requests/,
  ],
  [
    'no writable /tmp',
    (s) => void (pod(s, 'Deployment', 'inference-api').containers[0].volumeMounts = []),
    /inference-api api: no writable \/tmp/,
  ],
  [
    'a pod no NetworkPolicy selects',
    (s) => void (s.docs = s.docs.filter((d: K8sDoc) => d.metadata.name !== 'inference-default-deny')),
    /Job\/inference-migrate: no NetworkPolicy restricts its ingress/,
  ],
  [
    'no PDB for the orchestration worker',
    (s) =>
      void (s.docs = s.docs.filter(
        (d: K8sDoc) =>
          !(d.kind === 'PodDisruptionBudget' && d.metadata.name === 'inference-orchestration-worker'),
      )),
    /Deployment\/inference-orchestration-worker: no PodDisruptionBudget/,
  ],
])('a pod spec with %s is caught', (_name, breakIt, expected) => {
  expect(hardeningProblems(changed(base, breakIt)).join('\n')).toMatch(expected);
});
