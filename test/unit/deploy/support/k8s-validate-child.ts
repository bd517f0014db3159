/**
 * Child process of `validateK8s` (k8s-schema.ts): the schema packages are ES modules only, which
 * jest's CommonJS runtime cannot load, so this runs under tsx. Reads `[{ id, doc }]` as JSON on stdin
 * and prints `{ [id]: string[] }`, the schema errors of each document (none when it is valid).
 *   kubernetes-models          Kubernetes OpenAPI schemas (apps/v1, v1, batch/v1, policy/v1, …)
 *   @kubernetes-models/keda    KEDA CRD schemas (keda.sh/v1alpha1 ScaledObject, …)
 */
import { readFileSync } from 'node:fs';

type Model = new (data: unknown) => { validate(): void };
interface Input {
  id: string;
  doc: { apiVersion?: unknown; kind?: unknown };
}

async function modelFor(apiVersion: string, kind: string): Promise<Model | undefined> {
  const pkg = apiVersion.split('/')[0]!.endsWith('keda.sh') ? '@kubernetes-models/keda' : 'kubernetes-models';
  try {
    const mod = (await import(`${pkg}/${apiVersion}/${kind}`)) as Record<string, Model>;
    return mod[kind];
  } catch {
    return undefined;
  }
}

async function errorsOf({ doc }: Input): Promise<string[]> {
  const { apiVersion, kind } = doc;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return ['apiVersion and kind are required'];
  const Model = await modelFor(apiVersion, kind);
  if (!Model) return [`no schema for ${apiVersion} ${kind}`];
  try {
    new Model(doc).validate();
    return [];
  } catch (err) {
    return (err as Error).message.split('\n').filter((l) => l.trim() !== '');
  }
}

async function main(): Promise<void> {
  const inputs = JSON.parse(readFileSync(0, 'utf8')) as Input[];
  const out: Record<string, string[]> = {};
  for (const input of inputs) out[input.id] = await errorsOf(input);
  process.stdout.write(JSON.stringify(out));
}

void main();
