import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './paths';

/**
 * `npm run manifests` as it would write manifests/base/generated/ (file name → text), optionally from
 * another registry. A child process: prettier, which formats the output, cannot run inside jest.
 */
export function freshGeneration(registry?: string): Map<string, string> {
  const args = ['--import', 'tsx', join(ROOT, 'scripts', 'generate-manifests.ts'), '--json'];
  const r = spawnSync(process.execPath, [...args, ...(registry ? ['--registry', registry] : [])], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`npm run manifests failed (${r.status}): ${r.stderr}`);
  return new Map(Object.entries(JSON.parse(r.stdout) as Record<string, string>));
}
