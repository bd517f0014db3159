import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MEMORY_SETTINGS, withMemorySettings } from '../../../src/runtime/memory-settings';
import { imageOf, isIgnored, parseDockerfile, stages } from './support/dockerfile';
import { dockerfileProblems } from './support/dockerfile-checks';
import { entryFileProblem, sourceOf } from './support/entry-file';
import { replaceOnce } from './support/mutate';
import { DOCKERFILE, DOCKERIGNORE, ROOT } from './support/paths';

/** The Dockerfile and .dockerignore, read statically: there is no Docker engine to build with here. */
const dockerfile = readFileSync(DOCKERFILE, 'utf8');
const dockerignore = readFileSync(DOCKERIGNORE, 'utf8');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};
const FINAL_DEPS = 'COPY --from=deps /app/node_modules ./node_modules';

test('node:20-slim stages: a build compiles dist/, the image runs it with production dependencies, non-root', () => {
  expect(dockerfileProblems(dockerfile, dockerignore, pkg)).toEqual([]);
  const image = imageOf(dockerfile);
  expect(image.buildStage).toBe('build');
  expect(image.built).toEqual(
    expect.arrayContaining([
      'package.json',
      'tsconfig.build.json',
      'src',
      'workflows',
      'activities',
      'workers',
    ]),
  );
  expect(image.paths.sort()).toEqual(['dist', 'node_modules', 'package.json', 'workflow-bundle.js']);
  expect(image.compiled.sort()).toEqual(['dist', 'workflow-bundle.js']);
});

test.each([
  ['a root user', () => replaceOnce(dockerfile, 'USER 1000:1000', 'USER root'), /non-root USER/],
  [
    'a source folder the build does not get',
    () => replaceOnce(dockerfile, 'COPY workers ./workers\n', ''),
    /the build stage does not copy workers/,
  ],
  [
    'no build',
    () => replaceOnce(dockerfile, 'RUN npm run build\n', ''),
    /no named build stage runs npm run build/,
  ],
  [
    'dev dependencies in the production-dependency stage',
    () => replaceOnce(dockerfile, 'npm ci --omit=dev', 'npm ci'),
    /"npm ci --no-audit --no-fund" installs dev dependencies into the image's node_modules \(stage deps\)/,
  ],
  [
    'dev dependencies in the npm install fallback',
    () => replaceOnce(dockerfile, 'npm install --omit=dev', 'npm install'),
    /"npm install --no-audit --no-fund" installs dev dependencies into the image's node_modules/,
  ],
  [
    'node_modules from the build stage',
    () => replaceOnce(dockerfile, FINAL_DEPS, 'COPY --from=build /app/node_modules ./node_modules'),
    /copies \/app\/node_modules from stage build, which holds dev dependencies/,
  ],
  [
    'the whole build stage in the image',
    () => replaceOnce(dockerfile, 'COPY --from=build /app/dist ./dist', 'COPY --from=build /app ./'),
    /copies \/app from stage build, which holds dev dependencies/,
  ],
  [
    'an install in the final stage',
    () => replaceOnce(dockerfile, 'USER 1000:1000', 'RUN npm ci\nUSER 1000:1000'),
    /"npm ci" installs dev dependencies into the final stage/,
  ],
  [
    'node_modules from nowhere',
    () => replaceOnce(dockerfile, `${FINAL_DEPS}\n`, ''),
    /node_modules must come from/,
  ],
  [
    'no npm ci for the production dependencies',
    () => replaceOnce(dockerfile, 'npm ci --omit=dev --no-audit --no-fund', 'npm install --omit=dev'),
    /stage deps has no npm ci/,
  ],
  [
    'no npm ci for the build',
    () => replaceOnce(dockerfile, 'RUN npm ci --no-audit --no-fund', 'RUN npm install --no-audit --no-fund'),
    /stage build has no npm ci/,
  ],
  [
    'another base image',
    () => replaceOnce(dockerfile, 'FROM node:20-slim AS deps', 'FROM node:22 AS deps'),
    /node:22/,
  ],
  [
    'a shell entry point',
    () => replaceOnce(dockerfile, 'ENTRYPOINT ["node"]', 'ENTRYPOINT node dist/src/api/main.js'),
    /ENTRYPOINT must be \["node"\]/,
  ],
  [
    'the tsx entry point',
    () => replaceOnce(dockerfile, 'ENTRYPOINT ["node"]', 'ENTRYPOINT ["node", "--import", "tsx"]'),
    /ENTRYPOINT must be \["node"\]/,
  ],
  [
    'a TypeScript command',
    () => replaceOnce(dockerfile, 'CMD ["dist/src/api/main.js"]', 'CMD ["src/api/main.ts"]'),
    /CMD runs src\/api\/main.ts, which is no compiled dist/,
  ],
  [
    'a command no source compiles to',
    () => replaceOnce(dockerfile, 'CMD ["dist/src/api/main.js"]', 'CMD ["dist/src/api/server.js"]'),
    /CMD runs dist\/src\/api\/server.js, whose source src\/api\/server.ts does not exist/,
  ],
  [
    'dist/ left in the build stage',
    () => replaceOnce(dockerfile, 'COPY --from=build /app/dist ./dist\n', ''),
    /CMD runs dist\/src\/api\/main.js, which the final stage does not copy from the build stage/,
  ],
  [
    'a workflow bundle the image lacks',
    () => replaceOnce(dockerfile, 'COPY --from=build /app/workflow-bundle.js ./\n', ''),
    /WORKFLOW_BUNDLE_PATH=\/app\/workflow-bundle.js is not the workflow bundle/,
  ],
])('a Dockerfile with %s is caught', (_name, broken, expected) => {
  expect(dockerfileProblems(broken(), dockerignore, pkg).join('\n')).toMatch(expected);
});

test('an entry file must be dist/ output of a source the build compiles', () => {
  const image = imageOf(dockerfile);
  expect(sourceOf('dist/workers/gpu-worker.js')).toBe('workers/gpu-worker.ts');
  expect(sourceOf('workers/gpu-worker.ts')).toBeUndefined();
  expect(entryFileProblem('dist/workers/gpu-worker.js', image)).toBeUndefined();
  expect(entryFileProblem('dist/scripts/bundle-workflows.js', image)).toMatch(
    /tsconfig.build.json does not compile scripts\/bundle-workflows.ts/,
  );
  expect(entryFileProblem('dist/workers/gpu-worker.js', { ...image, built: ['src'] })).toMatch(
    /the build stage does not copy workers\/gpu-worker.ts/,
  );
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

/** `KEY=value` pairs of the ENV instructions of the image's final stage (space-separated form). */
function finalEnv(text: string): Record<string, string> {
  const final = stages(parseDockerfile(text)).at(-1)!;
  return Object.fromEntries(
    final.instructions
      .filter((i) => i.keyword === 'ENV')
      .flatMap((i) => i.args.split(/\s+/))
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

test('the image runs with the memory settings npm start gives its processes', () => {
  const env = finalEnv(dockerfile);
  expect(env).toMatchObject({
    NODE_OPTIONS: MEMORY_SETTINGS.nodeOptions,
    MALLOC_ARENA_MAX: MEMORY_SETTINGS.mallocArenaMax,
  });
  // What npm start gives a process that inherits no settings of its own is what the image sets.
  const { NODE_OPTIONS, MALLOC_ARENA_MAX } = withMemorySettings({});
  expect({ NODE_OPTIONS, MALLOC_ARENA_MAX }).toEqual({
    NODE_OPTIONS: env.NODE_OPTIONS,
    MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX,
  });
  expect(finalEnv(replaceOnce(dockerfile, ' MALLOC_ARENA_MAX=2', ''))).not.toHaveProperty('MALLOC_ARENA_MAX');
});
