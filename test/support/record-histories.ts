import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';

/**
 * Writes the history of each workflow in `recorded` (file name → workflow id) to
 * test/replay/histories/`folder`/, as `historyToJSON`. Histories are added, never re-recorded
 * (docs/operations.md): an existing file is kept.
 */
export async function recordHistories(
  client: Client,
  folder: string,
  recorded: Record<string, string>,
): Promise<void> {
  const dir = join(__dirname, '..', 'replay', 'histories', folder);
  mkdirSync(dir, { recursive: true });
  const { historyToJSON } = await import('@temporalio/common/lib/proto-utils');
  for (const [file, id] of Object.entries(recorded)) {
    if (existsSync(join(dir, file))) continue;
    writeFileSync(join(dir, file), historyToJSON(await client.workflow.getHandle(id).fetchHistory()));
  }
}
