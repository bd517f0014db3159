import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { copiedFromContext, isIgnored, parseDockerfile } from './support/dockerfile';
import { dockerfileProblems } from './support/dockerfile-checks';
import { replaceOnce } from './support/mutate';
import { DOCKERFILE, DOCKERIGNORE, ROOT } from './support/paths';

/** The Dockerfile and .dockerignore, read statically: there is no Docker engine to build with here. */
const dockerfile = readFileSync(DOCKERFILE, 'utf8');
const dockerignore = readFileSync(DOCKERIGNORE, 'utf8');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies?: Record<string, string>;
};

test('one multi-stage node:20-slim image, production dependencies, non-root, the command picks the process', () => {
  expect(dockerfileProblems(dockerfile, dockerignore, pkg)).toEqual([]);
  expect(copiedFromContext(dockerfile)).toEqual(
    expect.arrayContaining(['package.json', 'tsconfig.json', 'src', 'workflows', 'activities', 'workers']),
  );
});

test.each([
  ['a root user', () => replaceOnce(dockerfile, 'USER 1000:1000', 'USER root'), /non-root USER/],
  [
    'a missing source folder',
    () => replaceOnce(dockerfile, 'COPY workers ./workers\n', ''),
    /does not copy workers/,
  ],
  [
    'dev dependencies',
    () => replaceOnce(dockerfile, 'npm ci --omit=dev', 'npm ci'),
    /installs dev dependencies/,
  ],
  [
    'dev dependencies in the npm install fallback',
    () => replaceOnce(dockerfile, 'npm install --omit=dev', 'npm install'),
    /"npm install --no-audit --no-fund" installs dev dependencies/,
  ],
  [
    'no npm ci',
    () => replaceOnce(dockerfile, 'npm ci --omit=dev --no-audit --no-fund', 'npm install --omit=dev'),
    /no npm ci/,
  ],
  [
    'another base image',
    () => replaceOnce(dockerfile, 'FROM node:20-slim AS deps', 'FROM node:22 AS deps'),
    /node:22/,
  ],
  [
    'a shell entry point',
    () => replaceOnce(dockerfile, '["node", "--import", "tsx"]', 'node src/api/main.ts'),
    /ENTRYPOINT/,
  ],
])('a Dockerfile with %s is caught', (_name, broken, expected) => {
  expect(dockerfileProblems(broken(), dockerignore, pkg).join('\n')).toMatch(expected);
});

test.each([
  ['excludes sources the image needs', `${dockerignore}src\n`, /excludes src/],
  [
    'lets node_modules into the context',
    replaceOnce(dockerignore, 'node_modules\n', ''),
    /does not exclude node_modules/,
  ],
])('a .dockerignore that %s is caught', (_name, broken, expected) => {
  expect(dockerfileProblems(dockerfile, broken, pkg).join('\n')).toMatch(expected);
});

test('the reader joins continuation lines, drops comments and matches ignore globs', () => {
  const parsed = parseDockerfile('FROM a AS b\n# note\nRUN x \\\n  # inner\n  && y\nCMD ["z"]\n');
  expect(parsed).toEqual([
    { keyword: 'FROM', args: 'a AS b' },
    { keyword: 'RUN', args: 'x && y' },
    { keyword: 'CMD', args: '["z"]' },
  ]);
  expect(isIgnored('.env.local', ['.env.*'])).toBe(true);
  expect(isIgnored('src/a.ts', ['src'])).toBe(true);
  expect(isIgnored('src', ['*.log'])).toBe(false);
});
