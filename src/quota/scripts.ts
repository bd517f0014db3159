import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const load = (name: string): string => readFileSync(join(__dirname, 'lua', `${name}.lua`), 'utf8');

/**
 * Source of every quota Lua script. Each declares every key it touches in KEYS, and all keys of one
 * call carry the same tenant hash tag, so each call runs on one Redis Cluster slot.
 */
export const QUOTA_SCRIPTS = {
  reserve: load('reserve'),
  settle: load('settle'),
  sweep: load('sweep'),
  initTenant: load('init-tenant'),
  setLimits: load('set-limits'),
  auditSnapshot: load('audit-snapshot'),
  auditFix: load('audit-fix'),
  headroom: load('headroom'),
} as const;
