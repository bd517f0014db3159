/** A small reader for this repository's Dockerfile and .dockerignore: enough for the checks below. */
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

/** Paths the final stage copies from the build context (not `--from` another stage). */
export function copiedFromContext(dockerfile: string): string[] {
  const last = stages(parseDockerfile(dockerfile)).at(-1);
  return (last?.instructions ?? [])
    .filter((i) => i.keyword === 'COPY' && !/--from=/.test(i.args))
    .flatMap((i) => {
      const parts = i.args.split(/\s+/).filter((a) => !a.startsWith('--'));
      return parts.slice(0, -1).map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''));
    });
}

/** Whether a repository path lies in what the final stage copies (a copied file or under a copied dir). */
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
