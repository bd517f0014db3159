import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  type Kustomization,
  kustomizationProblems,
  orphanFiles,
  readKustomization,
} from './support/kustomize';
import { changed } from './support/mutate';
import {
  BASE,
  COMPONENTS,
  GENERATED,
  MANIFESTS,
  NOT_KUSTOMIZE,
  OBSERVABILITY,
  OVERLAYS,
} from './support/paths';

/** manifests/: each kustomization names files that exist, and every file is used by one. */
const DIRS = [BASE, GENERATED, ...OVERLAYS, OBSERVABILITY, ...COMPONENTS];

test.each(DIRS.map((d) => [relative(MANIFESTS, d), d]))(
  '%s/kustomization.yaml names only files that exist',
  (_n, dir) => {
    expect(kustomizationProblems(dir, readKustomization(dir))).toEqual([]);
  },
);

test('both overlays build on the base and set a namespace and an image tag', () => {
  for (const dir of OVERLAYS) {
    const k = readKustomization(dir);
    expect(k.resources).toContain('../../base');
    expect(k.namespace).toMatch(/^inference/);
    expect(k.images?.find((i) => i.name === 'durable-inference')?.newTag).toBeTruthy();
  }
  expect(readKustomization(BASE).namespace).toBeUndefined();
});

test('every file under manifests/ is used by a kustomization (or is a *.template.yaml, or another tool reads it)', () => {
  expect(orphanFiles(MANIFESTS, DIRS, NOT_KUSTOMIZE)).toEqual([]);
});

test.each([
  [
    'a missing resource',
    (k: Kustomization) => void k.resources!.push('missing.yaml'),
    /resource missing.yaml does not exist/,
  ],
  [
    'a missing patch file',
    (k: Kustomization) => void k.patches!.push({ path: 'nope.patch.yaml' }),
    /patch nope.patch.yaml does not exist/,
  ],
  [
    'a missing generator input',
    (k: Kustomization) => void (k.configMapGenerator![0]!.envs = ['gone.env']),
    /input gone.env does not exist/,
  ],
  [
    'a field this repository does not use',
    (k: Kustomization) => void Object.assign(k, { commonLabels: { a: 'b' } }),
    /unexpected field commonLabels/,
  ],
])('a kustomization with %s is caught', (_name, breakIt, expected) => {
  const dir = OVERLAYS[0]!;
  expect(kustomizationProblems(dir, changed(readKustomization(dir), breakIt)).join('\n')).toMatch(expected);
});

test('a manifest no kustomization lists is caught', () => {
  const root = mkdtempSync(join(tmpdir(), 'manifests-'));
  try {
    cpSync(MANIFESTS, root, { recursive: true });
    writeFileSync(join(root, 'base', 'forgotten.yaml'), 'apiVersion: v1\nkind: Service\n');
    const dirs = DIRS.map((d) => join(root, relative(MANIFESTS, d)));
    expect(orphanFiles(root, dirs, NOT_KUSTOMIZE)).toEqual([join(root, 'base', 'forgotten.yaml')]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
