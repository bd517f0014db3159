import { z } from 'zod';

/**
 * The zod field types the config schemas share: the product's (./schema.ts) and the dev tools'
 * (dev/config/schema.ts). No setting lives here, only how one is parsed.
 */
export const port = z.coerce.number().int().min(1).max(65535);
export const positiveInt = z.coerce.number().int().positive();
export const nonNegative = z.coerce.number().min(0);
/** A fraction from 0 to 1. */
export const rate = z.coerce.number().min(0).max(1);
export const bool = z.stringbool({
  truthy: ['true', '1', 'yes', 'on'],
  falsy: ['false', '0', 'no', 'off', ''],
});
/** Log level of a process. */
export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
