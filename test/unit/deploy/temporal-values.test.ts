import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { FAIRNESS_DYNAMIC_CONFIG } from '../../../dev/stack/temporal-dev-server';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../../../src/shared/search-attributes';
import { baseSet } from './support/manifest-set';
import { MANIFESTS } from './support/paths';
import { find } from './support/workloads';
import { parseEnvFile } from './support/yaml-docs';

/** manifests/temporal/values.yaml (Temporal's Helm chart) against the code; helm itself is not run here. */
interface Values {
  schema?: unknown;
  server: {
    dynamicConfig: Record<string, unknown>;
    config: {
      persistence: {
        defaultStore: string;
        visibilityStore: string;
        datastores: Record<string, { sql: Record<string, unknown> }>;
      };
      namespaces: { create: boolean; namespace: { name: string }[] };
    };
  };
}
const values = parseYaml(readFileSync(join(MANIFESTS, 'temporal', 'values.yaml'), 'utf8')) as Values;
const config = parseEnvFile(readFileSync(join(MANIFESTS, 'base', 'config.env'), 'utf8'));

test('PostgreSQL for persistence and visibility, passwords from a Secret, databases and schemas managed', () => {
  const p = values.server.config.persistence;
  expect([p.defaultStore, p.visibilityStore]).toEqual(['default', 'visibility']);
  for (const store of ['default', 'visibility']) {
    const sql = p.datastores[store]!.sql;
    expect(sql).toMatchObject({ pluginName: 'postgres12', existingSecret: 'temporal-postgres' });
    expect(sql).toMatchObject({ createDatabase: true, manageSchema: true });
    expect(sql.password).toBeUndefined();
  }
  // Settings chart 1.x refuses (schema.* moved to each datastore).
  expect(values.schema).toBeUndefined();
});

test('the fairness dynamic config of the dev server, and the namespace the app uses', () => {
  for (const kv of FAIRNESS_DYNAMIC_CONFIG) {
    const [key, value] = kv.split('=');
    expect([key, values.server.dynamicConfig[key!]]).toEqual([key, [{ value: JSON.parse(value!) }]]);
  }
  // The API starts inference workflows eagerly (API_EAGER_START): the server must allow it.
  expect(config.API_EAGER_START).toBe('true');
  expect(values.server.dynamicConfig['system.enableEagerWorkflowStart']).toEqual([{ value: true }]);
  expect(values.server.config.namespaces.create).toBe(true);
  expect(values.server.config.namespaces.namespace.map((n) => n.name)).toContain(config.TEMPORAL_NAMESPACE);
});

test('the search-attributes Job registers exactly the attributes of src/shared/search-attributes.ts', () => {
  const job = find(baseSet().docs, 'Job', 'inference-search-attributes')!;
  const script = (job.spec.template.spec.containers[0].args as string[]).join('\n');
  const listed = /for sa in ([\w ]+); do/.exec(script)![1]!.split(' ');
  expect(listed.sort()).toEqual(Object.keys(SEARCH_ATTRIBUTE_REGISTRATIONS).sort());
  expect(new Set(Object.values(SEARCH_ATTRIBUTE_REGISTRATIONS))).toEqual(new Set(['Keyword']));
  expect(script).toMatch(/--type Keyword/);
});
