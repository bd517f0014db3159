import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** TEMPORAL_CLI / TEMPORAL_TEST_SERVER from the environment, else from scripts/temporal-toolchain.sh. */
export function temporalBinaries(): { cli: string; testServer: string } {
  if (!process.env.TEMPORAL_CLI || !process.env.TEMPORAL_TEST_SERVER) {
    const out = execFileSync('bash', [join(__dirname, '..', '..', 'scripts', 'temporal-toolchain.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    for (const m of out.matchAll(/^export (\w+)='([^']*)'$/gm)) process.env[m[1]!] = m[2]!;
  }
  return { cli: process.env.TEMPORAL_CLI!, testServer: process.env.TEMPORAL_TEST_SERVER! };
}
