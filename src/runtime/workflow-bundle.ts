import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { bundleWorkflowCode, type WorkerOptions } from '@temporalio/worker';

const WORKFLOWS = require.resolve('../../workflows');

const quiet = { trace: () => undefined, debug: () => undefined, info: () => undefined };
const bundleLogger = {
  ...quiet,
  log: () => undefined,
  warn: (m: string, meta?: object) => console.warn(m, meta ?? ''),
  error: (m: string, meta?: object) => console.error(m, meta ?? ''),
};

const bundle = async (): Promise<string> =>
  (await bundleWorkflowCode({ workflowsPath: WORKFLOWS, logger: bundleLogger })).code;

/**
 * Writes the workflow code, bundled as the worker runs it, to `path`: the image build and
 * `npm start` do this once, so the worker process never loads webpack (npm start's orchestration worker at rest:
 * 322 -> 182 MiB RSS) and a worker restarted by its supervisor does not bundle again.
 */
export async function writeWorkflowBundle(path: string): Promise<void> {
  const code = await bundle();
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, code);
}

/** Where the worker takes its workflow code: a pre-built bundle, else bundled once in this process. */
export async function workflowSource(
  bundlePath: string | undefined,
): Promise<Pick<WorkerOptions, 'workflowBundle'>> {
  if (bundlePath) return { workflowBundle: { codePath: bundlePath } };
  return { workflowBundle: { code: await bundle() } };
}
