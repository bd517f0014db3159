/** A small reader for this repository's Dockerfile and .dockerignore: enough for the checks below. */
import { posix } from 'node:path';

export interface Instruction {
  keyword: string;
  args: string;
}
export interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

/** Instructions with `\` continuations joined and comment lines dropped (as Docker does). */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (!line && !pending)) continue;
    pending += (pending ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) continue;
    const m = /^(\S+)\s*(.*)$/.exec(pending)!;
    out.push({ keyword: m[1]!.toUpperCase(), args: m[2]! });
    pending = '';
  }
  return out;
}

export function stages(instructions: Instruction[]): Stage[] {
  const out: Stage[] = [];
  for (const i of instructions) {
    if (i.keyword === 'FROM') {
      const [image, as, name] = i.args.split(/\s+/).filter((a) => !a.startsWith('--'));
      out.push({ image: image!, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else out.at(-1)?.instructions.push(i);
  }
  return out;
}

/** Exec-form (`["a", "b"]`) arguments of ENTRYPOINT/CMD; shell form is returned as one string. */
export const execForm = (args: string): string[] =>
  args.startsWith('[') ? (JSON.parse(args) as string[]) : [args];

/** Source paths of one COPY/ADD (its last argument is the destination; flags dropped). */
const copySources = (args: string): string[] =>
  args
    .split(/\s+/)
    .filter((a) => !a.startsWith('--'))
    .slice(0, -1);
const fromStage = (args: string): string | undefined => /--from=(\S+)/.exec(args)?.[1];

/** Paths a stage copies from the build context (not `--from` another stage). */
export function copiedFromContext(stage: Stage | undefined): string[] {
  return (stage?.instructions ?? [])
    .filter((i) => i.keyword === 'COPY' && !fromStage(i.args))
    .flatMap((i) => copySources(i.args).map((p) => p.replace(/^\.\//, '').replace(/\/$/, '')));
}

/** A `COPY --from=<stage>`: that stage, and the paths it takes from it (absolute there). */
export interface StageCopy {
  from: string;
  sources: string[];
}

/** What the Dockerfile builds: enough to tell which files the final image holds, and from where. */
export interface Image {
  /** Paths under the final stage's WORKDIR (/app): copied from the context, or from another stage. */
  paths: string[];
  /** Paths the stage that runs `npm run build` copies from the context: what tsc can compile. */
  built: string[];
  /** Paths under /app the final stage copies from the stage that runs `npm run build`. */
  compiled: string[];
  /** The stage that runs `npm run build`, if any. */
  buildStage?: string;
}

/** `/app/x` (a `--from` source, absolute in the other stage) as a path under /app, else undefined. */
export const underApp = (abs: string): string | undefined => {
  const p = posix.normalize(abs).replace(/\/$/, '');
  return p.startsWith('/app/') ? p.slice('/app/'.length) : undefined;
};

export function stageCopies(stage: Stage | undefined): StageCopy[] {
  return (stage?.instructions ?? [])
    .filter((i) => i.keyword === 'COPY' && fromStage(i.args))
    .map((i) => ({ from: fromStage(i.args)!, sources: copySources(i.args) }));
}

/** The stage whose RUN runs `npm run build`. */
export const buildStageOf = (all: Stage[]): Stage | undefined =>
  all.find((s) => s.instructions.some((i) => i.keyword === 'RUN' && /\bnpm run build\b/.test(i.args)));

export function imageOf(dockerfile: string): Image {
  const all = stages(parseDockerfile(dockerfile));
  const build = buildStageOf(all);
  const fromStages = (c: StageCopy[]): string[] =>
    c.flatMap((x) => x.sources.map(underApp).filter((p): p is string => p !== undefined));
  const copies = stageCopies(all.at(-1));
  return {
    paths: [...copiedFromContext(all.at(-1)), ...fromStages(copies)],
    built: build ? copiedFromContext(build) : [],
    compiled: build?.name ? fromStages(copies.filter((c) => c.from === build.name)) : [],
    buildStage: build?.name,
  };
}

/** Whether `path` is one of `copied` or lies under one of them (a copied file or folder). */
export const isCopied = (path: string, copied: string[]): boolean =>
  copied.some((c) => path === c || path.startsWith(`${c}/`));

/** .dockerignore patterns (comments and blank lines dropped). */
export const ignorePatterns = (text: string): string[] =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

/**
 * Whether .dockerignore excludes `path` or one of its parents: `*` globs (no `**`); as Docker reads
 * it, the last pattern that matches decides, and `!pattern` re-includes.
 */
export function isIgnored(path: string, patterns: string[]): boolean {
  const segments = path.split('/');
  let ignored = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const p = negated ? raw.slice(1) : raw;
    const re = new RegExp(
      `^${p
        .replace(/\/$/, '')
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '[^/]*')}$`,
    );
    if (segments.some((_, i) => re.test(segments.slice(0, i + 1).join('/')))) ignored = !negated;
  }
  return ignored;
}
