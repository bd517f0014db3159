import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { kustomizeBuild, listFiles, readKustomization, referencedFiles } from './support/kustomize';
import { allManifestProblems, type ManifestSet } from './support/manifest-checks';
import { KUBECTL, baseSet, readSecretTemplate, renderedSet } from './support/manifest-set';
import { changed, replaceOnce } from './support/mutate';
import { BASE, COMPONENTS, MANIFESTS, OVERLAYS, ROOT } from './support/paths';
import { placeholderSecrets } from './support/placeholder-secrets';
import { type NamedDoc, validateK8s } from './support/k8s-schema';
import { type Container, containers, find } from './support/workloads';
import { type K8sDoc, parseEnvFile, parseYamlDocs } from './support/yaml-docs';

/**
 * manifests/ against the Kubernetes and KEDA schemas and against the code: what `kubectl apply -k`
 * would send (the base as read here, each overlay as `kubectl kustomize` renders it), no cluster.
 */
const base = baseSet();
/** The generated GPU Deployment and ScaledObject of the registry's one model. */
const GPU = 'inference-gpu-llama-3-1-8b';
const overlays = KUBECTL ? OVERLAYS.map((dir) => ({ dir, set: renderedSet(KUBECTL!, dir) })) : [];
const rel = (p: string): string => relative(ROOT, p);
const overlayTest = KUBECTL ? test : test.skip;

test('every object is valid against the Kubernetes OpenAPI and KEDA CRD schemas', () => {
  const docs: NamedDoc[] = [
    ...base.docs.map((doc, i) => ({ id: `base#${i} ${doc.kind}/${doc.metadata.name}`, doc })),
    { id: 'secret.template.yaml', doc: readSecretTemplate() },
    ...overlays.flatMap(({ dir, set }) =>
      set.docs.map((doc, i) => ({ id: `${rel(dir)}#${i} ${doc.kind}/${doc.metadata.name}`, doc })),
    ),
  ];
  const errors = Object.entries(validateK8s(docs)).filter(([, e]) => e.length);
  expect(errors).toEqual([]);
  expect(new Set(base.docs.map((d) => d.kind))).toEqual(
    new Set([
      'Deployment',
      'Service',
      'PodDisruptionBudget',
      'Job',
      'ScaledObject',
      'ConfigMap',
      'NetworkPolicy',
    ]),
  );
});

test('a document that breaks its schema is caught', () => {
  const api = find(base.docs, 'Deployment', 'inference-api')!;
  const gpu = find(base.docs, 'ScaledObject', GPU)!;
  const errors = validateK8s([
    { id: 'replicas', doc: changed(api, (d) => void (d.spec.replicas = 'two')) },
    { id: 'no containers', doc: changed(api, (d) => void delete d.spec.template.spec.containers) },
    { id: 'trigger', doc: changed(gpu, (d) => void (d.spec.triggers = 'temporal')) },
    { id: 'kind', doc: { ...api, kind: 'Deploymnet' } },
  ]);
  expect(errors.replicas!.join('\n')).toMatch(/replicas/);
  expect(errors['no containers']!.join('\n')).toMatch(/containers/);
  expect(errors.trigger!.join('\n')).toMatch(/triggers/);
  expect(errors.kind).toEqual(['no schema for apps/v1 Deploymnet']);
});

test('the base agrees with the code: entry points, config, registry, probes, KEDA, references, production mode', () => {
  expect(allManifestProblems(base)).toEqual([]);
});

overlayTest.each(OVERLAYS.map((d) => [rel(d), d]))('%s renders and agrees with the code', (_n, dir) => {
  const { set } = overlays.find((o) => o.dir === dir)!;
  expect(allManifestProblems(set)).toEqual([]);
  const namespace = readKustomization(dir).namespace;
  expect(set.docs.filter((d) => d.kind !== 'Namespace' && d.metadata.namespace !== namespace)).toEqual([]);
  for (const w of set.docs.filter((d) => d.kind === 'Deployment' || d.kind === 'Job'))
    for (const c of containers(w).filter((x) => x.image?.includes('durable-inference')))
      expect(c.image).toMatch(/durable-inference:[\w.-]+$/);
});

overlayTest.each(COMPONENTS.map((c) => [rel(c), c]))(
  'prod with %s: every trigger authenticates with a TriggerAuthentication that exists',
  (_n, component) => {
    const root = mkdtempSync(join(tmpdir(), 'manifests-'));
    try {
      cpSync(MANIFESTS, root, { recursive: true });
      const dir = join(root, 'overlays', 'with-auth');
      mkdirSync(dir);
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../prod]\n` +
          `components: [../../components/${relative(join(MANIFESTS, 'components'), component)}]\n`,
      );
      const docs = kustomizeBuild(KUBECTL!, dir);
      const errors = validateK8s(
        docs.map((doc, i) => ({ id: `#${i} ${doc.kind}/${doc.metadata.name}`, doc })),
      );
      expect(Object.entries(errors).filter(([, e]) => e.length)).toEqual([]);
      const auths = docs.filter((d) => d.kind === 'TriggerAuthentication').map((d) => d.metadata.name);
      const scaled = docs.filter((d) => d.kind === 'ScaledObject');
      expect(scaled.length).toBeGreaterThanOrEqual(2);
      for (const so of scaled)
        for (const t of so.spec.triggers as { authenticationRef?: { name: string } }[])
          expect([so.metadata.name, auths.includes(t.authenticationRef?.name ?? '')]).toEqual([
            so.metadata.name,
            true,
          ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
);

/** Files `kubectl apply -k` reads under `root`: every kustomization and what it names (not *.template.yaml). */
const appliedFiles = (root: string): string[] => {
  const dirs = [BASE, ...OVERLAYS].map((d) => join(root, relative(MANIFESTS, d)));
  const used = new Set(dirs.flatMap((d) => referencedFiles(d, readKustomization(d))));
  return listFiles(root).filter((f) => used.has(f) || f.endsWith('kustomization.yaml'));
};
/** Placeholder secrets in the applied files under `root` (env files by line, YAML by document). */
const placeholdersIn = (root: string): string[] =>
  appliedFiles(root).flatMap((f) => {
    const text = readFileSync(f, 'utf8');
    const parsed = f.endsWith('.env') ? parseEnvFile(text) : parseYamlDocs(text, f);
    return placeholderSecrets(parsed, relative(root, f));
  });

test('no applied manifest carries a development default or placeholder secret', () => {
  const files = appliedFiles(MANIFESTS).map((f) => relative(MANIFESTS, f));
  expect(files).toEqual(
    expect.arrayContaining(['base/config.env', 'base/models.yaml', 'overlays/prod/kustomization.yaml']),
  );
  expect(files).not.toContain('base/secret.template.yaml');
  expect(placeholdersIn(MANIFESTS)).toEqual([]);
  for (const { dir, set } of overlays)
    expect(placeholderSecrets(set.docs, `kustomize ${rel(dir)}`)).toEqual([]);
});

test('a placeholder secret in an applied manifest is caught', () => {
  const root = mkdtempSync(join(tmpdir(), 'manifests-'));
  try {
    cpSync(MANIFESTS, root, { recursive: true });
    appendFileSync(join(root, 'base', 'config.env'), 'ADMIN_TOKEN=change-me-admin-token\n');
    const dev = join(root, 'overlays', 'dev', 'kustomization.yaml');
    writeFileSync(dev, replaceOnce(readFileSync(dev, 'utf8'), 'LOG_LEVEL=debug', 'DEV_API_KEY=dev-demo-key'));
    expect(placeholdersIn(root)).toEqual([
      'base/config.env: ADMIN_TOKEN: carries "change-me"',
      'overlays/dev/kustomization.yaml: 0.configMapGenerator.0.literals.0: carries "dev-demo-key"',
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the Secret template is documentation: placeholders only, the keys the processes need, no DEV_API_KEY', () => {
  const template = readSecretTemplate();
  expect(Object.keys(template.stringData ?? {}).sort()).toEqual([
    'ADMIN_TOKEN',
    // The codec server (codec-server.yaml) refuses to start without it outside development.
    'CODEC_SERVER_TOKEN',
    'DATABASE_URL',
    'PAYLOAD_KEYS',
  ]);
  // Every value is a placeholder, which the processes refuse: a copy applied unedited cannot start.
  for (const [k, v] of Object.entries(template.stringData ?? {}))
    expect([k, placeholderSecrets(v, k).length]).toEqual([k, 1]);
});

test.each([
  ['ADMIN_TOKEN: dev-admin-token', { ADMIN_TOKEN: 'dev-admin-token' }],
  ['a change-me password in a URL', { DATABASE_URL: 'postgres://u:change-me@db/x' }],
  ['a CHANGE-ME placeholder', { ADMIN_TOKEN: 'CHANGE-ME-admin-token' }],
  ['the demo key in an env list', [{ name: 'DEV_API_KEY', value: 'dev-demo-key' }]],
])('a manifest with %s is caught', (_name, value) => {
  expect(placeholderSecrets({ kind: 'ConfigMap', data: value }, 'x.yaml')).toHaveLength(1);
});

const deployment = (s: ManifestSet, name: string): K8sDoc => find(s.docs, 'Deployment', name)!;
const app = (s: ManifestSet, name: string): Container => containers(deployment(s, name))[0]!;
const configEnv = (s: ManifestSet): Record<string, string> =>
  find(s.docs, 'ConfigMap', 'inference-config')!.data!;
type Break = (s: ManifestSet) => void;

test.each<[string, Break, RegExp]>([
  [
    'a missing entry point',
    (s) => void (app(s, 'inference-api').args = ['dist/src/api/server.js']),
    /Deployment\/inference-api api: runs dist\/src\/api\/server.js, whose source src\/api\/server.ts does not exist/,
  ],
  [
    'a TypeScript entry point (the image has no tsx)',
    (s) => void (app(s, 'inference-api').args = ['src/api/main.ts']),
    /Deployment\/inference-api api: runs src\/api\/main.ts, which is no compiled dist/,
  ],
  [
    'an env var the config does not know',
    (s) => void (configEnv(s).DEV_API_KEYS = 'x'),
    /env DEV_API_KEYS is not in src\/config\/schema.ts/,
  ],
  ['an invalid config value', (s) => void (configEnv(s).LOG_LEVEL = 'verbose'), /config invalid: LOG_LEVEL/],
  [
    'a demo tenant key in the Secret',
    (s) => void (s.secretTemplate.stringData!.DEV_API_KEY = 'sk-0123456789abcdef0123456789abcdef'),
    /Job\/inference-migrate migrate: config invalid: DEV_API_KEY: must be unset when APP_ENV=production/,
  ],
  [
    'a short admin token in the Secret',
    (s) => void (s.secretTemplate.stringData!.ADMIN_TOKEN = 'short-token-1234'),
    /config invalid: ADMIN_TOKEN: must be at least 32 characters/,
  ],
  [
    'development mode',
    (s) => void (configEnv(s).APP_ENV = 'development'),
    /Deployment\/inference-api api: APP_ENV=development, expected production/,
  ],
  [
    'APP_ENV left to the default',
    (s) => void delete configEnv(s).APP_ENV,
    /APP_ENV=\(unset\), expected production/,
  ],
  [
    'a Secret applied by kustomize',
    (s) => void s.docs.push(readSecretTemplate()),
    /Secret\/inference-secrets: applied by kustomize/,
  ],
  [
    'a missing Secret reference',
    (s) => void (app(s, 'inference-api').envFrom![1]!.secretRef!.name = 'inference-secret'),
    /envFrom Secret inference-secret does not exist/,
  ],
  [
    'an invalid model registry',
    (s) => {
      const cm = find(s.docs, 'ConfigMap', 'inference-models')!;
      cm.data!['models.yaml'] = cm.data!['models.yaml']!.replace('protocol: openai', 'protocol: grpc');
    },
    /models.yaml: models.0.protocol/,
  ],
  [
    'readiness on /healthz for the API',
    (s) => void (app(s, 'inference-api').readinessProbe!.httpGet!.path = '/healthz'),
    /readinessProbe on \/healthz, expected \/readyz/,
  ],
  [
    'a probe on a port that is not the metrics port',
    (s) => void (app(s, GPU).livenessProbe!.httpGet!.port = 8080),
    /livenessProbe port 8080 is not GPU_METRICS_PORT=9465/,
  ],
  [
    'a termination grace shorter than the drain grace',
    (s) => void (deployment(s, GPU).spec.template.spec.terminationGracePeriodSeconds = 20),
    /terminationGracePeriodSeconds 20 <= GPU_DRAIN_GRACE_S 30/,
  ],
  [
    'a GPU queue no worker serves',
    (s) => {
      const cm = find(s.docs, 'ConfigMap', 'inference-models')!;
      cm.data!['models.yaml'] = cm.data!['models.yaml']!.replace(
        'gpu_task_queue: gpu-default',
        'gpu_task_queue: gpu-big',
      );
    },
    /no GPU worker Deployment serves queue gpu-big/,
  ],
  [
    'a KEDA trigger on the wrong queue',
    (s) => void (find(s.docs, 'ScaledObject', GPU)!.spec.triggers[0].metadata.taskQueue = 'gpu-typo'),
    /watches gpu-typo, but Deployment\/inference-gpu-llama-3-1-8b serves gpu-default/,
  ],
  [
    'a KEDA trigger on another Temporal namespace',
    (s) =>
      void (find(
        s.docs,
        'ScaledObject',
        'inference-orchestration-worker',
      )!.spec.triggers[0].metadata.namespace = 'prod'),
    /namespace prod, but the workers use TEMPORAL_NAMESPACE default/,
  ],
  [
    'an unknown KEDA trigger parameter',
    (s) => void (find(s.docs, 'ScaledObject', GPU)!.spec.triggers[0].metadata.queueSize = '5'),
    /unknown temporal trigger parameter queueSize/,
  ],
  [
    'replicas on a KEDA-scaled Deployment',
    (s) => void (deployment(s, 'inference-orchestration-worker').spec.replicas = 1),
    /sets spec.replicas, which every apply would reset under KEDA/,
  ],
  [
    'an orchestration worker that scales to zero',
    (s) => void (find(s.docs, 'ScaledObject', 'inference-orchestration-worker')!.spec.minReplicaCount = 0),
    /minReplicaCount must be >= 1/,
  ],
  [
    'a Service that selects nothing',
    (s) =>
      void (find(s.docs, 'Service', 'inference-api')!.spec.selector = { 'app.kubernetes.io/name': 'api' }),
    /Service\/inference-api: selects no Deployment/,
  ],
  [
    'a missing ConfigMap key',
    (s) =>
      void (find(
        s.docs,
        'Job',
        'inference-search-attributes',
      )!.spec.template.spec.containers[0].env[0].valueFrom.configMapKeyRef.key = 'TEMPORAL_HOST'),
    /refers to missing ConfigMap key inference-config\/TEMPORAL_HOST/,
  ],
])('a manifest set with %s is caught', (_name, breakIt, expected) => {
  expect(allManifestProblems(changed(base, breakIt)).join('\n')).toMatch(expected);
});

test('the codec server is deployed: its entry point and port, a Service, ingress on that port only, no egress', () => {
  const deployment = find(base.docs, 'Deployment', 'inference-codec-server')!;
  const [c] = containers(deployment);
  expect(c!.args).toEqual(['dist/src/codec-server/main.js']);
  const config = parseEnvFile(readFileSync(join(BASE, 'config.env'), 'utf8'));
  const port = (c!.ports as { name: string; containerPort: number }[]).find((p) => p.name === 'http');
  expect(port?.containerPort).toBe(Number(config.CODEC_SERVER_PORT));
  expect(find(base.docs, 'Service', 'inference-codec-server')?.spec.ports[0].targetPort).toBe('http');
  // Every NetworkPolicy that selects the codec server's pods.
  const labels = deployment.spec.template.metadata.labels as Record<string, string>;
  const selecting = base.docs.filter((d) => {
    if (d.kind !== 'NetworkPolicy') return false;
    const sel = d.spec.podSelector as {
      matchLabels?: Record<string, string>;
      matchExpressions?: { key: string; values: string[] }[];
    };
    return (
      Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
      (sel.matchExpressions ?? []).every((e) => e.values.includes(labels[e.key] ?? ''))
    );
  });
  const ingress = selecting.flatMap((d) => (d.spec.ingress ?? []) as { ports?: { port: number }[] }[]);
  expect(ingress.flatMap((r) => (r.ports ?? []).map((p) => p.port))).toEqual([port!.containerPort]);
  expect(selecting.some((d) => (d.spec.policyTypes as string[]).includes('Egress'))).toBe(true);
  expect(selecting.flatMap((d) => d.spec.egress ?? [])).toEqual([]);
});
