import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const load = (name: string): string => readFileSync(join(__dirname, 'lua', `${name}.lua`), 'utf8');

/** Puts a shared Lua library after the script's first line (its `#!lua` flags must stay first). */
const withLib = (script: string, lib: string): string => {
  const eol = script.indexOf('\n');
  return `${script.slice(0, eol + 1)}${load(`lib/${lib}`)}${script.slice(eol + 1)}`;
};

/**
 * Source of every quota Lua script. Each declares every key it touches in KEYS, and all keys of one
 * call carry the same tenant hash tag, so each call runs on one Redis Cluster slot.
 */
export const QUOTA_SCRIPTS = {
  reserve: withLib(load('reserve'), 'limit-check'),
  settle: load('settle'),
  extend: withLib(load('extend'), 'limit-check'),
  sweep: load('sweep'),
  initTenant: load('init-tenant'),
  setLimits: load('set-limits'),
  auditSnapshot: load('audit-snapshot'),
  auditFix: load('audit-fix'),
  headroom: withLib(load('headroom'), 'limit-check'),
} as const;
