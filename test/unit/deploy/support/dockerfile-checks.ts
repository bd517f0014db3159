import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  copiedFromContext,
  execForm,
  ignorePatterns,
  isIgnored,
  parseDockerfile,
  stages,
} from './dockerfile';
import { ROOT } from './paths';

/** What the image must contain to run every process (see Dockerfile). */
export const REQUIRED_IN_IMAGE = [
  'package.json',
  'tsconfig.json',
  'src',
  'workflows',
  'activities',
  'workers',
];
/** Local state and tools that must never reach the build context. */
export const NEVER_IN_CONTEXT = ['node_modules', '.git', '.data', '.tools', '.env'];

/** Problems of the Dockerfile and .dockerignore, given package.json's dependencies. */
export function dockerfileProblems(
  dockerfile: string,
  dockerignore: string,
  pkg: { dependencies?: Record<string, string> },
): string[] {
  const problems: string[] = [];
  const all = stages(parseDockerfile(dockerfile));
  const final = all.at(-1);
  if (all.length < 2 || !final) problems.push('Dockerfile: expected a multi-stage build');
  for (const s of all)
    if (s.image !== 'node:20-slim') problems.push(`Dockerfile: stage FROM ${s.image}, expected node:20-slim`);
  const runs = all.flatMap((s) => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args));
  // Quoted text (an echo's message) is no command: drop it before splitting the shell lists.
  const installs = runs
    .map((r) => r.replace(/'[^']*'|"[^"]*"/g, "''"))
    .flatMap((r) => r.split(/&&|\|\||;|\{|\}/))
    .filter((c) => /\bnpm (ci|install|i)\b/.test(c));
  if (!installs.some((c) => /\bnpm ci\b/.test(c))) problems.push('Dockerfile: no npm ci');
  for (const c of installs)
    if (!c.includes('--omit=dev')) problems.push(`Dockerfile: "${c.trim()}" installs dev dependencies`);
  if (!pkg.dependencies?.tsx)
    problems.push('package.json: tsx must be a runtime dependency (npm ci --omit=dev)');
  if (final) {
    const copied = copiedFromContext(dockerfile);
    for (const p of REQUIRED_IN_IMAGE)
      if (!copied.includes(p)) problems.push(`Dockerfile: the final stage does not copy ${p}`);
    for (const p of copied) {
      if (!existsSync(join(ROOT, p))) problems.push(`Dockerfile: copies ${p}, which does not exist`);
      if (isIgnored(p, ignorePatterns(dockerignore)))
        problems.push(`.dockerignore: excludes ${p}, which the Dockerfile copies`);
    }
    const fromStage = final.instructions.some(
      (i) => i.keyword === 'COPY' && /--from=\S+/.test(i.args) && /node_modules/.test(i.args),
    );
    if (!fromStage) problems.push('Dockerfile: node_modules must come from the dependency stage');
    const user = final.instructions
      .filter((i) => i.keyword === 'USER')
      .at(-1)
      ?.args.split(':')[0];
    if (!user || user === 'root' || user === '0')
      problems.push('Dockerfile: the final stage must run as a non-root USER');
    const entry = final.instructions.filter((i) => i.keyword === 'ENTRYPOINT').at(-1);
    if (!entry || execForm(entry.args).join(' ') !== 'node --import tsx')
      problems.push(
        'Dockerfile: ENTRYPOINT must be ["node", "--import", "tsx"] (the command names the process)',
      );
    const cmd = final.instructions.filter((i) => i.keyword === 'CMD').at(-1);
    const file = cmd ? execForm(cmd.args)[0] : undefined;
    if (!file || !existsSync(join(ROOT, file))) problems.push(`Dockerfile: CMD ${file} does not exist`);
  }
  for (const p of NEVER_IN_CONTEXT)
    if (!isIgnored(p, ignorePatterns(dockerignore))) problems.push(`.dockerignore: does not exclude ${p}`);
  return problems;
}
