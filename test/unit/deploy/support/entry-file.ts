import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Image, isCopied } from './dockerfile';
import { ROOT } from './paths';

/** The TypeScript source `npm run build` compiles to `dist/<x>.js`; undefined for any other path. */
export const sourceOf = (entry: string): string | undefined => {
  const m = /^dist\/(.+)\.js$/.exec(entry);
  return m ? `${m[1]}.ts` : undefined;
};

/** The folders tsconfig.build.json compiles (its `include`). */
const buildIncludes = (): string[] =>
  (JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include?: string[] }).include ??
  [];

/**
 * Why the image cannot run `file` (the command or args after its `node` entry point), or undefined
 * when it can: `file` is a `dist/<x>.js` that `npm run build` compiles from `<x>.ts`, which exists,
 * tsconfig.build.json includes and the build stage copies; the final stage copies it from that stage.
 */
export function entryFileProblem(file: string | undefined, image: Image): string | undefined {
  const source = file ? sourceOf(file) : undefined;
  if (!file || !source) return `runs ${file}, which is no compiled dist/<source>.js`;
  if (!existsSync(join(ROOT, source))) return `runs ${file}, whose source ${source} does not exist`;
  if (!isCopied(source, buildIncludes()))
    return `runs ${file}, but tsconfig.build.json does not compile ${source}`;
  if (!isCopied(source, image.built)) return `runs ${file}, but the build stage does not copy ${source}`;
  if (!isCopied(file, image.compiled))
    return `runs ${file}, which the final stage does not copy from the build stage`;
  return undefined;
}
