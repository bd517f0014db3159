import { envSchema, type Env } from './schema';
import { parseEnvironment } from './parse-environment';

export { ConfigError } from './parse-environment';

/** Parses and validates the environment. The only place `process.env` is read. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Env {
  return parseEnvironment(envSchema, env);
}

export type { Env };
