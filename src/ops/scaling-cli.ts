/**
 * `npm run scaling [-- --watch] [--manifests <dir>]`: for each KEDA ScaledObject in the manifests
 * (manifests/base by default: the orchestration worker and every generated GPU model), the backlog
 * and pollers Temporal reports for its queue and the replicas KEDA would ask for (docs/deploy.md).
 * Temporal is TEMPORAL_ADDRESS (default 127.0.0.1:7233, the `npm start` server); the namespace and
 * queue are each trigger's own. `--watch` prints every second.
 */
import { resolve } from 'node:path';
import { Connection } from '@temporalio/client';
import { loadConfig } from '../config/load-config';
import { temporalAddress } from '../runtime/resources';
import { formatRows, readScaledQueues, scalingRow } from './scaled-queues';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const at = argv.indexOf('--manifests');
  const dir = resolve(at >= 0 && argv[at + 1] ? argv[at + 1]! : 'manifests/base');
  const watch = argv.includes('--watch');
  const queues = readScaledQueues(dir);
  if (!queues.length) throw new Error(`no ScaledObject with a temporal trigger under ${dir}`);
  // Only TEMPORAL_ADDRESS matters here: a read-only operator tool is not held to the secret rules
  // of the processes that serve (ADMIN_TOKEN), so it loads the config in development mode.
  const cfg = loadConfig({ ...process.env, APP_ENV: 'development' });
  const connection = await Connection.connect({ address: temporalAddress(cfg) });
  try {
    do {
      const rows = await Promise.all(queues.map((q) => scalingRow(connection, q)));
      const stamp = new Date().toISOString().slice(11, 19);
      console.log(`${watch ? `${stamp}\n` : ''}${formatRows(rows)}${watch ? '\n' : ''}`);
      if (watch) await new Promise((r) => setTimeout(r, 1000));
    } while (watch);
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
