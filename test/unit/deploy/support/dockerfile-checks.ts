import { existsSync } from 'node:fs';
import { join, posix } from 'node:path';
import {
  type Stage,
  buildStageOf,
  copiedFromContext,
  execForm,
  ignorePatterns,
  imageOf,
  isCopied,
  isIgnored,
  parseDockerfile,
  stageCopies,
  stages,
} from './dockerfile';
import { entryFileProblem } from './entry-file';
import { ROOT } from './paths';

/** What the stage that runs `npm run build` needs from the context: the sources and the bundler. */
export const REQUIRED_IN_BUILD = [
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'src',
  'workflows',
  'activities',
  'workers',
  'scripts/bundle-workflows.ts',
];
/** What the final image must contain to run every process (see Dockerfile), under /app. */
export const REQUIRED_IN_IMAGE = ['package.json', 'node_modules', 'dist', 'workflow-bundle.js'];
/** Local state and tools that must never reach the build context. */
export const NEVER_IN_CONTEXT = ['node_modules', '.git', '.data', '.tools', '.env'];

const NODE_MODULES = '/app/node_modules';

/** The `npm ci` / `npm install` commands of a stage's RUN instructions. */
function installsOf(stage: Stage): string[] {
  return (
    stage.instructions
      .filter((i) => i.keyword === 'RUN')
      // Quoted text (an echo's message) is no command: drop it before splitting the shell lists.
      .map((i) => i.args.replace(/'[^']*'|"[^"]*"/g, "''"))
      .flatMap((r) => r.split(/&&|\|\||;|\{|\}/))
      .filter((c) => /\bnpm (ci|install|i)\b/.test(c))
      .map((c) => c.trim())
  );
}
const withDev = (stage: Stage): string[] => installsOf(stage).filter((c) => !c.includes('--omit=dev'));
/** Whether `src` (absolute in another stage) is node_modules, inside it, or a folder holding it. */
const takesNodeModules = (src: string): boolean => {
  const p = posix.normalize(`/${src}`).replace(/\/$/, '') || '/';
  return p === NODE_MODULES || p.startsWith(`${NODE_MODULES}/`) || NODE_MODULES.startsWith(`${p}/`);
};

/**
 * Problems of the Dockerfile and .dockerignore, given package.json: a build stage compiles dist/
 * with every dependency; the final image runs `node dist/….js` as non-root, and its node_modules
 * come from a stage that installed production dependencies only, so no dev dependency reaches it.
 */
export function dockerfileProblems(
  dockerfile: string,
  dockerignore: string,
  pkg: { dependencies?: Record<string, string>; devDependencies?: Record<string, string> },
): string[] {
  const problems: string[] = [];
  const all = stages(parseDockerfile(dockerfile));
  const final = all.at(-1);
  const stage = (name: string): Stage | undefined => all.slice(0, -1).find((s) => s.name === name);
  if (all.length < 2 || !final) problems.push('Dockerfile: expected a multi-stage build');
  for (const s of all)
    if (s.image !== 'node:20-slim') problems.push(`Dockerfile: stage FROM ${s.image}, expected node:20-slim`);
  for (const s of all)
    if (installsOf(s).length && !installsOf(s).some((c) => /\bnpm ci\b/.test(c)))
      problems.push(`Dockerfile: stage ${s.name ?? '(final)'} has no npm ci`);
  const ignored = (p: string): boolean => isIgnored(p, ignorePatterns(dockerignore));
  for (const p of new Set(all.flatMap((s) => copiedFromContext(s)))) {
    if (!existsSync(join(ROOT, p))) problems.push(`Dockerfile: copies ${p}, which does not exist`);
    if (ignored(p)) problems.push(`.dockerignore: excludes ${p}, which the Dockerfile copies`);
  }

  const build = buildStageOf(all);
  if (!build?.name || build === final) problems.push('Dockerfile: no named build stage runs npm run build');
  else
    for (const p of REQUIRED_IN_BUILD)
      if (!isCopied(p, copiedFromContext(build)))
        problems.push(`Dockerfile: the build stage does not copy ${p}`);
  const runsTsx = all.some((s) => s.instructions.some((i) => i.keyword === 'RUN' && /\btsx\b/.test(i.args)));
  if (runsTsx && !pkg.dependencies?.tsx && !pkg.devDependencies?.tsx)
    problems.push('package.json: the build stage runs tsx, which is no dependency');

  if (final) {
    const image = imageOf(dockerfile);
    for (const p of REQUIRED_IN_IMAGE)
      if (!isCopied(p, image.paths)) problems.push(`Dockerfile: the final stage does not copy ${p}`);
    for (const c of withDev(final))
      problems.push(`Dockerfile: "${c}" installs dev dependencies into the final stage`);
    const copies = stageCopies(final);
    for (const { from, sources } of copies) {
      const s = stage(from);
      if (!s) problems.push(`Dockerfile: the final stage copies from ${from}, which is no earlier stage`);
      else if (withDev(s).length)
        for (const src of sources.filter(takesNodeModules))
          problems.push(
            `Dockerfile: the final stage copies ${src} from stage ${from}, which holds dev dependencies`,
          );
    }
    const depsStages = copies.filter((c) => c.sources.some(takesNodeModules)).map((c) => stage(c.from));
    if (!depsStages.length)
      problems.push('Dockerfile: node_modules must come from a production-dependency stage');
    for (const s of depsStages)
      if (s && !installsOf(s).length) problems.push(`Dockerfile: stage ${s.name} installs no dependencies`);
      else if (s)
        for (const c of withDev(s))
          problems.push(
            `Dockerfile: "${c}" installs dev dependencies into the image's node_modules (stage ${s.name})`,
          );

    const env = final.instructions
      .filter((i) => i.keyword === 'ENV')
      .map((i) => /^WORKFLOW_BUNDLE_PATH[= ]\s*(\S+)$/.exec(i.args)?.[1])
      .filter(Boolean)
      .at(-1);
    const bundle = env?.startsWith('/app/') ? env.slice('/app/'.length) : undefined;
    const bundled = build?.instructions.some(
      (i) => i.keyword === 'RUN' && i.args.includes(`scripts/bundle-workflows.ts ${env}`),
    );
    if (!bundle || !bundled || !image.compiled.includes(bundle))
      problems.push(
        `Dockerfile: WORKFLOW_BUNDLE_PATH=${env} is not the workflow bundle the build stage writes and the final stage copies`,
      );

    const user = final.instructions
      .filter((i) => i.keyword === 'USER')
      .at(-1)
      ?.args.split(':')[0];
    if (!user || user === 'root' || user === '0')
      problems.push('Dockerfile: the final stage must run as a non-root USER');
    const entry = final.instructions.filter((i) => i.keyword === 'ENTRYPOINT').at(-1);
    if (!entry || JSON.stringify(execForm(entry.args)) !== '["node"]')
      problems.push('Dockerfile: ENTRYPOINT must be ["node"] (the command names the compiled process)');
    const cmd = final.instructions.filter((i) => i.keyword === 'CMD').at(-1);
    const problem = entryFileProblem(cmd ? execForm(cmd.args)[0] : undefined, image);
    if (problem) problems.push(`Dockerfile: CMD ${problem}`);
  }
  for (const p of NEVER_IN_CONTEXT) if (!ignored(p)) problems.push(`.dockerignore: does not exclude ${p}`);
  return problems;
}
