import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

/** A Kubernetes object as read from YAML; only the fields the checks read are typed. */
export interface K8sDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; [k: string]: unknown };
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  [k: string]: unknown;
}

/** Every non-empty document of a YAML text; a YAML syntax error throws, naming `where`. */
export function parseYamlDocs(text: string, where: string): unknown[] {
  return parseAllDocuments(text).flatMap((d) => {
    if (d.errors.length) throw new Error(`${where}: ${d.errors[0]!.message}`);
    const value: unknown = d.toJS();
    return value === null || value === undefined ? [] : [value];
  });
}

export function readYamlDocs(file: string): unknown[] {
  return parseYamlDocs(readFileSync(file, 'utf8'), file);
}

/** `KEY=VALUE` lines of a kustomize env file (blank lines and `#` comments skipped). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const eq = t.indexOf('=');
    if (eq <= 0) throw new Error(`not KEY=VALUE: ${t}`);
    out[t.slice(0, eq)] = t.slice(eq + 1);
  }
  return out;
}
