import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The manifests and compose file are validated against their schemas (no cluster, no Docker here). */
const ROOT = join(__dirname, '..', '..');

function validate(args: string[] = []): {
  status: number | null;
  report: { ok: boolean; checked: Record<string, number>; errors: string[] };
} {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'scripts', 'validate-deploy.ts'), ...args],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  return { status: r.status, report: JSON.parse(r.stdout) };
}

test('manifests, kustomizations and docker-compose.yml are valid', () => {
  const { status, report } = validate();
  expect(report.errors).toEqual([]);
  expect(status).toBe(0);
  expect(report.checked).toMatchObject({
    kustomizations: 3,
    'kubernetes Deployment': 3,
    'kubernetes ScaledObject': 2,
    'kubernetes Job': 1,
    'compose files': 1,
  });
});

test('a broken manifest, a missing resource and a wrong KEDA queue are caught', () => {
  const dir = mkdtempSync(join(tmpdir(), 'manifests-'));
  cpSync(join(ROOT, 'manifests'), dir, { recursive: true });
  const api = join(dir, 'base', 'api.yaml');
  writeFileSync(api, readFileSync(api, 'utf8').replace('replicas: 2', 'replicas: two'));
  const keda = join(dir, 'base', 'keda.yaml');
  writeFileSync(keda, readFileSync(keda, 'utf8').replace('taskQueue: gpu-default', 'taskQueue: gpu-typo'));
  const kust = join(dir, 'base', 'kustomization.yaml');
  writeFileSync(kust, `${readFileSync(kust, 'utf8')}  - missing.yaml\n`);
  const { status, report } = validate(['--manifests', dir]);
  expect(status).toBe(1);
  expect(report.errors.join('\n')).toMatch(/Deployment\/inference-api/);
  expect(report.errors.join('\n')).toMatch(/resource missing.yaml does not exist/);
  expect(report.errors.join('\n')).toMatch(/watches gpu-typo/);
});

test('a compose file with an invalid service or an unknown env var is caught', () => {
  const dir = mkdtempSync(join(tmpdir(), 'compose-'));
  const file = join(dir, 'docker-compose.yml');
  writeFileSync(
    file,
    readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')
      .replace("ports: ['8080:8080']", 'ports: { bad: true }')
      .replace('DEV_API_KEY: dev-demo-key', 'DEV_API_KEYS: dev-demo-key'),
  );
  const { status, report } = validate(['--compose', file]);
  expect(status).toBe(1);
  expect(report.errors.join('\n')).toMatch(/docker-compose.yml\/services\/api\/ports/);
  expect(report.errors.join('\n')).toMatch(/env DEV_API_KEYS is not in src\/config\/schema.ts/);
});
