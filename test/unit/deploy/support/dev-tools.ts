import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import {
  copiedFromContext,
  execForm,
  ignorePatterns,
  isIgnored,
  parseDockerfile,
  stages,
} from './dockerfile';
import { ROOT } from './paths';

/** The dev tools' tree (the reference model service, the local stack, their config schema) and its build. */
export const DEV_PATHS = ['dev', 'dist-dev', 'tsconfig.dev.json'];

/** Whether a repository path is a dev tool or its compiled output. */
const isDevPath = (p: string): boolean =>
  DEV_PATHS.some((d) => p === d || p.startsWith(`${d}/`)) ||
  /(^|\/)dev\/(model-service|stack|config)\//.test(p);

/**
 * Why the product image could hold a dev tool: .dockerignore lets one of `devFiles` (repository
 * paths) into the build context, a stage copies one from the context (or whole-context `.`), a RUN
 * builds the dev tools, or the final stage runs one.
 */
export function imageDevToolProblems(dockerfile: string, dockerignore: string, devFiles: string[]): string[] {
  const problems: string[] = [];
  const patterns = ignorePatterns(dockerignore);
  for (const f of [...DEV_PATHS, ...devFiles])
    if (!isIgnored(f, patterns)) problems.push(`.dockerignore: lets ${f} into the product's build context`);
  const all = stages(parseDockerfile(dockerfile));
  for (const s of all) {
    const name = s.name ?? '(final)';
    for (const p of copiedFromContext(s))
      if (p === '.' || p === '' || isDevPath(p))
        problems.push(`Dockerfile: stage ${name} copies ${p || '.'}`);
    for (const i of s.instructions)
      if (i.keyword === 'RUN' && /\bbuild:dev\b|tsconfig\.dev\.json|\bdev\//.test(i.args))
        problems.push(`Dockerfile: stage ${name} builds a dev tool: ${i.args}`);
  }
  const final = all.at(-1);
  for (const i of final?.instructions ?? [])
    if (i.keyword === 'CMD' || i.keyword === 'ENTRYPOINT')
      for (const a of execForm(i.args))
        if (isDevPath(a)) problems.push(`Dockerfile: the image runs ${a}, a dev tool`);
  return problems;
}

/** The files `npm run build` (tsconfig.build.json) compiles into dist/, relative to the root. */
export function productBuildFiles(): string[] {
  const file = join(ROOT, 'tsconfig.build.json');
  const { config } = ts.readConfigFile(file, (p) => ts.sys.readFile(p)) as { config: unknown };
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, ROOT, undefined, file);
  return parsed.fileNames.map((f) => relative(ROOT, f));
}

/**
 * Imports of the product's files that resolve into dev/: tsc follows them, so they would put a dev
 * tool into dist/. `files` are repository paths with their text.
 */
export function devImportsOf(files: { path: string; text: string }[]): string[] {
  const problems: string[] = [];
  for (const { path, text } of files) {
    if (isDevPath(path)) problems.push(`tsconfig.build.json compiles ${path}, a dev tool`);
    for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = relative(ROOT, resolve(ROOT, dirname(path), fileName));
      if (isDevPath(target)) problems.push(`${path} imports ${fileName}, a dev tool`);
    }
  }
  return problems;
}

/** The product's build files with their text. */
export const productSources = (): { path: string; text: string }[] =>
  productBuildFiles().map((path) => ({ path, text: readFileSync(join(ROOT, path), 'utf8') }));
