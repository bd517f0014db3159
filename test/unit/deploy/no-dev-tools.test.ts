import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DEV_DOCKERFILE, REFERENCE_MODEL_SERVICE } from './support/compose';
import { devImportsOf, imageDevToolProblems, productBuildFiles, productSources } from './support/dev-tools';
import {
  execForm,
  ignorePatterns,
  isIgnored,
  parseDockerfile,
  stageCopies,
  stages,
} from './support/dockerfile';
import { replaceOnce } from './support/mutate';
import { DOCKERFILE, DOCKERIGNORE, ROOT } from './support/paths';

/** The product image holds no dev tool (issue 28): read statically, there is no Docker engine here. */
const dockerfile = readFileSync(DOCKERFILE, 'utf8');
const dockerignore = readFileSync(DOCKERIGNORE, 'utf8');
const devFiles = (readdirSync(join(ROOT, 'dev'), { recursive: true }) as string[])
  .map((f) => `dev/${f}`)
  .filter((f) => statSync(join(ROOT, f)).isFile());

test('the dev tools live in dev/: the reference model service, the local stack, their config schema', () => {
  expect(devFiles).toEqual(
    expect.arrayContaining([
      'dev/model-service/main.ts',
      'dev/stack/stack.ts',
      'dev/config/schema.ts',
      'dev/Dockerfile',
    ]),
  );
  expect(productBuildFiles().filter((f) => /model-service|stack\.ts$|temporal-dev-server/.test(f))).toEqual(
    [],
  );
});

test("the product image's build context, COPY lines and command hold no dev tool", () => {
  expect(imageDevToolProblems(dockerfile, dockerignore, devFiles)).toEqual([]);
});

test('dist/ holds no dev tool: tsconfig.build.json compiles none and no product file imports one', () => {
  const sources = productSources();
  expect(sources.length).toBeGreaterThan(100);
  expect(sources.some((s) => s.path === 'src/api/main.ts')).toBe(true);
  expect(devImportsOf(sources)).toEqual([]);
});

test.each([
  [
    'dev/ in the build context',
    () => [dockerfile, replaceOnce(dockerignore, '\ndev\n', '\n')],
    /lets dev into/,
  ],
  [
    'a COPY of dev/',
    () => [replaceOnce(dockerfile, 'COPY src ./src\n', 'COPY src ./src\nCOPY dev ./dev\n'), dockerignore],
    /stage build copies dev/,
  ],
  [
    'the whole context copied',
    () => [replaceOnce(dockerfile, 'COPY src ./src\n', 'COPY . .\n'), dockerignore],
    /stage build copies \./,
  ],
  [
    'the dev build run',
    () => [
      replaceOnce(dockerfile, 'RUN npm run build\n', 'RUN npm run build && npm run build:dev\n'),
      dockerignore,
    ],
    /builds a dev tool/,
  ],
  [
    'the image running the model service',
    () => [
      replaceOnce(dockerfile, 'CMD ["dist/src/api/main.js"]', `CMD ["${REFERENCE_MODEL_SERVICE}"]`),
      dockerignore,
    ],
    /the image runs dist-dev\/dev\/model-service\/main\.js, a dev tool/,
  ],
])('a product image with %s is caught', (_name, mutate, expected) => {
  const [d, i] = mutate();
  expect(imageDevToolProblems(d!, i!, devFiles).join('\n')).toMatch(expected);
});

test('a product file importing a dev tool, or a dev file in the build, is caught', () => {
  expect(
    devImportsOf([
      { path: 'src/api/main.ts', text: "import { freePort } from '../../dev/stack/free-port';" },
      { path: 'workers/gpu-worker.ts', text: "export { loadDevConfig } from '../dev/config/schema';" },
      { path: 'dev/model-service/main.ts', text: '' },
      { path: 'src/models/http-call.ts', text: "import { x } from './model-spec';" },
    ]),
  ).toEqual([
    'src/api/main.ts imports ../../dev/stack/free-port, a dev tool',
    'workers/gpu-worker.ts imports ../dev/config/schema, a dev tool',
    'tsconfig.build.json compiles dev/model-service/main.ts, a dev tool',
  ]);
});

test('the dev image (dev/Dockerfile) builds dist-dev/ from src/ and dev/ and runs the reference model service', () => {
  const all = stages(parseDockerfile(readFileSync(join(ROOT, DEV_DOCKERFILE), 'utf8')));
  const build = all.find((s) =>
    s.instructions.some((i) => i.keyword === 'RUN' && /npm run build:dev\b/.test(i.args)),
  );
  expect(build?.name).toBe('build');
  const final = all.at(-1)!;
  expect(stageCopies(final)).toEqual(expect.arrayContaining([{ from: 'build', sources: ['/app/dist-dev'] }]));
  const cmd = final.instructions.filter((i) => i.keyword === 'CMD').at(-1);
  expect(execForm(cmd!.args)).toEqual([REFERENCE_MODEL_SERVICE]);
  expect(final.instructions.some((i) => i.keyword === 'USER' && i.args.startsWith('1000'))).toBe(true);
  // Its own ignore file lets in what it builds from, and no local state or secret.
  const patterns = ignorePatterns(readFileSync(join(ROOT, `${DEV_DOCKERFILE}.dockerignore`), 'utf8'));
  for (const p of [
    'dev/model-service/main.ts',
    'src/config/schema.ts',
    'tsconfig.dev.json',
    'package-lock.json',
  ])
    expect([p, isIgnored(p, patterns)]).toEqual([p, false]);
  for (const p of ['.env', '.data/x', 'node_modules/zod/package.json', 'dist/src/api/main.js'])
    expect([p, isIgnored(p, patterns)]).toEqual([p, true]);
});
