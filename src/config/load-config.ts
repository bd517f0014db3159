import type { z } from 'zod';
import { envSchema, type Env } from './schema';

/** Thrown when the environment does not validate; lists every offending variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly issues: { variable: string; message: string }[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  ${i.variable}: ${i.message}`).join('\n')}`);
  }
}

/** Parses and validates the environment. The only place `process.env` is read. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Env {
  return parseEnvironment(envSchema, env);
}

/**
 * Parses `env` with `schema` (the product's, or the dev tools' in dev/config/schema.ts): empty strings
 * mean "unset" so `FOO= npm start` falls back to the default; every offending variable is named in
 * one ConfigError.
 */
export function parseEnvironment<S extends z.ZodType>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.output<S> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue: z.core.$ZodIssue) => ({
        variable: issue.path.join('.') || '(root)',
        message: issue.message,
      })),
    );
  }
  return parsed.data;
}

export type { Env };
