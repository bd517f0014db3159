import { envSchema } from '../../../../src/config/schema';

/**
 * Every variable the processes read: the keys of the one config schema. zod 4 keeps a
 * `.superRefine` on the object itself (no wrapper), so `.shape` lists them all.
 */
export const CONFIG_ENV_NAMES: ReadonlySet<string> = new Set(Object.keys(envSchema.shape));

/** Names that are neither in the config schema nor in `extra` (e.g. model API keys the registry names). */
export function unknownEnvNames(names: Iterable<string>, extra: ReadonlySet<string> = new Set()): string[] {
  return [...names].filter((n) => !CONFIG_ENV_NAMES.has(n) && !extra.has(n));
}

/** What `loadConfig` would refuse in this environment, one line per issue. */
export function envValueProblems(env: Record<string, string | undefined>): string[] {
  const r = envSchema.safeParse(env);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

/** The config a process gets from `env` (schema defaults filled in); throws when it is invalid. */
export const parseEnv = (env: Record<string, string | undefined>): ReturnType<typeof envSchema.parse> =>
  envSchema.parse(env);
