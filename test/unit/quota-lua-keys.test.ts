import { QUOTA_SCRIPTS } from '../../src/quota/scripts';

/**
 * Redis Cluster routes a script by its declared KEYS. A key a script reaches any other way (built
 * from a prefix, read from a record, passed in ARGV) may live in another slot. So: the key argument
 * of every redis.call is a KEYS[...] expression, a local bound only to KEYS[...], or a parameter of a
 * local function whose every call passes one of those.
 */
// The scripts as Redis runs them: shared libraries (lua/lib/) included where they are called.
const scripts = Object.keys(QUOTA_SCRIPTS) as (keyof typeof QUOTA_SCRIPTS)[];

const KEYS_EXPR = /^KEYS\[[^\]]+\]$/;

/** Key arguments that do not come from KEYS, as `file: argument`. */
function undeclaredKeys(file: string, src: string): string[] {
  const code = src.replace(/--.*$/gm, '');
  const fromKeys = new Set<string>();
  for (const m of code.matchAll(/local\s+([\w\s,]+?)\s*=\s*([^\n]+)/g)) {
    const names = m[1]!.split(',').map((s) => s.trim());
    const values = m[2]!.split(',').map((s) => s.trim());
    if (names.length === values.length && values.every((v) => KEYS_EXPR.test(v)))
      names.forEach((n) => fromKeys.add(n));
  }
  const declared = (arg: string): boolean => KEYS_EXPR.test(arg) || fromKeys.has(arg);
  const bad: string[] = [];
  // Local helpers taking the key as a parameter: every call site must pass a declared key.
  const keyParams = new Set<string>();
  for (const m of code.matchAll(/local function (\w+)\(([^)]*)\)/g)) {
    const fn = m[1]!;
    m[2]!.split(',').forEach((raw, i) => {
      const p = raw.trim();
      if (!new RegExp(`redis\\.call\\('\\w+',\\s*${p}\\b`).test(code)) return;
      keyParams.add(p);
      for (const c of code.matchAll(new RegExp(`(?<!function )\\b${fn}\\(([^)]*)\\)`, 'g'))) {
        const arg = c[1]!.split(',')[i]?.trim() ?? '';
        if (!declared(arg)) bad.push(`${file}: ${fn}(${arg}, ...)`);
      }
    });
  }
  for (const m of code.matchAll(/redis\.call\('(\w+)',\s*([^,)]+)/g)) {
    const arg = m[2]!.trim();
    if (!declared(arg) && !keyParams.has(arg)) bad.push(`${file}: ${m[1]} ${arg}`);
  }
  return bad;
}

test.each(scripts)('%s touches only keys declared in KEYS', (name) => {
  expect(undeclaredKeys(name, QUOTA_SCRIPTS[name])).toEqual([]);
});

test('the check catches keys built in Lua or read from records', () => {
  expect(
    undeclaredKeys(
      'bad.lua',
      `local rec = redis.call('HMGET', KEYS[1], 'km')
       redis.call('HINCRBY', rec[1], 'req_res', -1)
       redis.call('HSET', ARGV[2] .. 'x', 'state', 'expired')
       local function incr(key, by) redis.call('HINCRBY', key, 'f', by) end
       incr(rec[1], 1)
       incr(KEYS[2], 1)`,
    ),
  ).toEqual(['bad.lua: incr(rec[1], ...)', 'bad.lua: HINCRBY rec[1]', "bad.lua: HSET ARGV[2] .. 'x'"]);
});

test('every script has a shebang, so Redis 7 applies its flags and slot checks', () => {
  for (const name of scripts) expect(QUOTA_SCRIPTS[name].split('\n')[0]).toMatch(/^#!lua( flags=[\w,-]+)?$/);
});
