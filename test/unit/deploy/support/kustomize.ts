import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ROOT } from './paths';
import { type K8sDoc, parseEnvFile, parseYamlDocs, readYamlDocs } from './yaml-docs';

interface Generator {
  name: string;
  behavior?: 'create' | 'merge' | 'replace';
  envs?: string[];
  files?: string[];
  literals?: string[];
}

/** The kustomization fields these manifests use; any other field is reported, not ignored. */
export interface Kustomization {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  resources?: string[];
  labels?: unknown[];
  images?: { name: string; newName?: string; newTag?: string }[];
  replicas?: { name: string; count: number }[];
  patches?: {
    path?: string;
    patch?: string;
    target?: { kind?: string; name?: string; labelSelector?: string };
  }[];
  configMapGenerator?: Generator[];
  components?: string[];
}
const KNOWN_FIELDS = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'resources',
  'labels',
  'images',
  'replicas',
  'patches',
  'configMapGenerator',
  'components',
]);
/** A kustomization's apiVersion/kind: a Kustomization, or a Component that overlays pull in. */
const KINDS = new Set([
  'kustomize.config.k8s.io/v1beta1 Kustomization',
  'kustomize.config.k8s.io/v1alpha1 Component',
]);

export function readKustomization(dir: string): Kustomization {
  return parseYaml(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
}

/** `key=path` or `path` of a generator's `files` entry. */
const generatorFile = (entry: string): string => entry.slice(entry.indexOf('=') + 1);

/** Files a kustomization reads besides other kustomizations: resources, patches, generator inputs. */
export function referencedFiles(dir: string, k: Kustomization): string[] {
  return [
    ...(k.resources ?? []).map((r) => resolve(dir, r)).filter((p) => !isKustomizationDir(p)),
    ...(k.patches ?? []).flatMap((p) => (p.path ? [resolve(dir, p.path)] : [])),
    ...(k.configMapGenerator ?? []).flatMap((g) => [
      ...(g.envs ?? []).map((e) => resolve(dir, e)),
      ...(g.files ?? []).map((f) => resolve(dir, generatorFile(f))),
    ]),
  ];
}

const isKustomizationDir = (p: string): boolean =>
  existsSync(p) && statSync(p).isDirectory() && existsSync(join(p, 'kustomization.yaml'));

/** What is wrong with one kustomization: its kind, unknown fields, anything it names that is missing. */
export function kustomizationProblems(dir: string, k: Kustomization): string[] {
  const where = relative(ROOT, join(dir, 'kustomization.yaml'));
  const problems: string[] = [];
  if (!KINDS.has(`${k.apiVersion} ${k.kind}`))
    problems.push(`${where}: apiVersion/kind must be kustomize.config.k8s.io/v1beta1 Kustomization`);
  for (const field of Object.keys(k))
    if (!KNOWN_FIELDS.has(field)) problems.push(`${where}: unexpected field ${field}`);
  for (const r of k.resources ?? []) {
    const p = resolve(dir, r);
    if (!existsSync(p)) problems.push(`${where}: resource ${r} does not exist`);
    else if (statSync(p).isDirectory() && !isKustomizationDir(p))
      problems.push(`${where}: resource ${r} is a directory without kustomization.yaml`);
  }
  for (const c of k.components ?? [])
    if (!isKustomizationDir(resolve(dir, c))) problems.push(`${where}: component ${c} does not exist`);
  for (const p of k.patches ?? []) {
    if (!p.path && !p.patch) problems.push(`${where}: a patch has neither path nor patch`);
    if (p.path && !existsSync(resolve(dir, p.path)))
      problems.push(`${where}: patch ${p.path} does not exist`);
    if (p.patch && !(p.target?.kind && (p.target.name || p.target.labelSelector)))
      problems.push(`${where}: an inline patch needs target.kind and target.name or labelSelector`);
  }
  for (const g of k.configMapGenerator ?? []) {
    for (const f of [...(g.envs ?? []), ...(g.files ?? []).map(generatorFile)])
      if (!existsSync(resolve(dir, f))) problems.push(`${where}: ${g.name} input ${f} does not exist`);
  }
  return problems;
}

/** Every file under `root`, recursively. */
export function listFiles(root: string): string[] {
  return readdirSync(root).flatMap((f) => {
    const p = join(root, f);
    return statSync(p).isDirectory() ? listFiles(p) : [p];
  });
}

/**
 * Files under manifests/ that no kustomization uses, that are not `*.template.yaml` and that are not
 * read by another tool (`otherTools`, relative to `root`): a manifest somebody forgot to list in
 * `resources` would otherwise never be applied.
 */
export function orphanFiles(root: string, dirs: string[], otherTools: string[] = []): string[] {
  const used = new Set([
    ...dirs.flatMap((d) => [join(d, 'kustomization.yaml'), ...referencedFiles(d, readKustomization(d))]),
    ...otherTools.map((f) => join(root, f)),
  ]);
  return listFiles(root).filter((f) => !used.has(f) && !f.endsWith('.template.yaml'));
}

/**
 * The objects a (base) kustomization emits, without kustomize: resource files, those of the plain
 * kustomizations it includes (manifests/base/generated), plus generated ConfigMaps.
 */
export function loadKustomizationDocs(dir: string, k: Kustomization = readKustomization(dir)): K8sDoc[] {
  const resources = (k.resources ?? [])
    .map((r) => resolve(dir, r))
    .flatMap((p) => (isKustomizationDir(p) ? loadKustomizationDocs(p) : (readYamlDocs(p) as K8sDoc[])));
  const generated = (k.configMapGenerator ?? []).map((g): K8sDoc => {
    const data: Record<string, string> = {};
    for (const e of g.envs ?? []) Object.assign(data, parseEnvFile(readFileSync(resolve(dir, e), 'utf8')));
    for (const f of g.files ?? []) {
      const key = f.includes('=') ? f.slice(0, f.indexOf('=')) : basename(f);
      data[key] = readFileSync(resolve(dir, generatorFile(f)), 'utf8');
    }
    for (const l of g.literals ?? []) data[l.slice(0, l.indexOf('='))] = l.slice(l.indexOf('=') + 1);
    return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g.name }, data };
  });
  return [...resources, ...generated];
}

/** `kubectl` if this machine has one (KUBECTL, else PATH); its built-in kustomize renders overlays. */
export function findKubectl(): string | undefined {
  const bin = process.env.KUBECTL ?? 'kubectl';
  const r = spawnSync(bin, ['version', '--client'], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 ? bin : undefined;
}

/** `kubectl kustomize dir`: the objects `kubectl apply -k dir` would send. */
export function kustomizeBuild(kubectl: string, dir: string): K8sDoc[] {
  const r = spawnSync(kubectl, ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`kubectl kustomize ${relative(ROOT, dir)}: ${r.stderr}`);
  return parseYamlDocs(r.stdout, `kustomize build ${relative(ROOT, dir)}`) as K8sDoc[];
}
