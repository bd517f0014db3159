import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './paths';

/** A document to validate, under an id the caller picks. */
export interface NamedDoc {
  id: string;
  doc: unknown;
}

/**
 * Schema errors of each document (an empty list when valid), against the Kubernetes OpenAPI schemas
 * (`kubernetes-models`) and KEDA's CRD schemas (`@kubernetes-models/keda`). One child process for the
 * whole batch: those packages are ES modules only (k8s-validate-child.ts says why).
 * Note: Kubernetes' schemas allow unknown fields, so a misspelt optional field passes here; the
 * cross-checks read the fields that matter, and `kubectl apply` rejects unknown fields (strict field
 * validation is its default).
 */
export function validateK8s(docs: NamedDoc[]): Record<string, string[]> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, 'k8s-validate-child.ts')], {
    cwd: ROOT,
    input: JSON.stringify(docs),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`schema validation failed to run (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, string[]>;
}
