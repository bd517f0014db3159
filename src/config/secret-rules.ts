/**
 * What counts as a real secret outside development. The config schema refuses anything else, and the
 * deployment tests scan docker-compose.yml and the manifests with the same rules.
 */

/** The development defaults of the config schema: valid in development mode only. */
export const DEVELOPMENT_SECRETS = {
  ADMIN_TOKEN: 'dev-admin-token',
  DEV_API_KEY: 'dev-demo-key',
  CODEC_SERVER_TOKEN: 'dev-codec-token',
} as const;

/** Shortest ADMIN_TOKEN accepted outside development (`openssl rand -hex 32` gives 64 characters). */
export const MIN_ADMIN_TOKEN_LENGTH = 32;

/** Template placeholders: `change-me…`, `CHANGE-ME…`, `changeme…`. */
const PLACEHOLDER = /^change-?me/i;
/** A development default or a placeholder anywhere in a longer value (a URL's password, `${X:-…}`). */
const EMBEDDED = new RegExp(`(${Object.values(DEVELOPMENT_SECRETS).join('|')}|\\bchange-?me)`, 'i');

/** Whether `value` is one of the development defaults or a template placeholder. */
export function isPlaceholderSecret(value: string): boolean {
  return (Object.values(DEVELOPMENT_SECRETS) as string[]).includes(value) || PLACEHOLDER.test(value);
}

/** The development default or placeholder that `text` contains, if any. */
export function embeddedPlaceholderSecret(text: string): string | undefined {
  return EMBEDDED.exec(text)?.[0];
}

/** The length rule every bearer token outside development follows (admin, codec server). */
function lengthProblem(token: string): string | undefined {
  return token.length < MIN_ADMIN_TOKEN_LENGTH
    ? `must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters outside development (openssl rand -hex 32)`
    : undefined;
}

/** Why `token` cannot be the admin token outside development; undefined when it can. */
export function adminTokenProblem(token: string): string | undefined {
  if (token === DEVELOPMENT_SECRETS.ADMIN_TOKEN)
    return `is unset or the development default; set a random token of at least ${MIN_ADMIN_TOKEN_LENGTH} characters (openssl rand -hex 32), or APP_ENV=development for a local run`;
  if (isPlaceholderSecret(token))
    return 'is a development default or a template placeholder; set a real token';
  return lengthProblem(token);
}

/** Why `token` cannot be the codec server's bearer token outside development; undefined when it can. */
export function codecTokenProblem(token: string): string | undefined {
  if (isPlaceholderSecret(token))
    return 'is a development default or a template placeholder; set a real token (openssl rand -hex 32)';
  return lengthProblem(token);
}
