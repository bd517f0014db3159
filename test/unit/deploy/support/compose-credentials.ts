import { interpolate, requiresFromEnvironment } from './compose-interpolation';
import type { ComposeFile, ComposeService } from './compose';

/** The stores' passwords: never written into the file, always `${NAME:?…}` from the environment. */
export const STORE_PASSWORDS = ['POSTGRES_PASSWORD', 'REDIS_PASSWORD'] as const;

const envOf = (s: ComposeService | undefined): Record<string, string> =>
  Array.isArray(s?.environment)
    ? Object.fromEntries(
        s.environment.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      )
    : Object.fromEntries(Object.entries(s?.environment ?? {}).map(([k, v]) => [k, String(v)]));
const commandOf = (s: ComposeService | undefined): string[] =>
  typeof s?.command === 'string' ? s.command.split(/\s+/) : (s?.command ?? []);

/**
 * No default credential in docker-compose.yml: PostgreSQL's password and Redis's (with AUTH on)
 * come from the environment, compose refuses to start without them, and every URL and client of the
 * stores carries them. `shell` is the environment compose runs in (with .env).
 */
export function credentialProblems(
  compose: ComposeFile,
  shell: Readonly<Record<string, string | undefined>>,
): string[] {
  const problems: string[] = [];
  const services = compose.services ?? {};
  const at = (name: string): string => `docker-compose.yml: ${name}`;
  const fromEnv = (where: string, what: string, raw: string | undefined, name: string): void => {
    if (!raw || !requiresFromEnvironment(raw, name))
      problems.push(
        `${where}: ${what} must be \${${name}:?…} from the environment, not ${JSON.stringify(raw ?? null)}`,
      );
  };
  // Compose refuses to start when a required variable is unset, in any service.
  for (const [name, s] of Object.entries(services)) {
    const texts = [...Object.entries(envOf(s)), ...commandOf(s).map((c, i) => [`command[${i}]`, c] as const)];
    for (const [k, v] of texts)
      for (const m of interpolate(v, shell).missing)
        problems.push(`${at(name)}: ${k} needs ${m} from the environment, which is unset`);
  }
  fromEnv(
    at('postgres'),
    'POSTGRES_PASSWORD',
    envOf(services.postgres).POSTGRES_PASSWORD,
    'POSTGRES_PASSWORD',
  );
  fromEnv(at('temporal'), 'POSTGRES_PWD', envOf(services.temporal).POSTGRES_PWD, 'POSTGRES_PASSWORD');
  const redisCmd = commandOf(services.redis);
  const pass = redisCmd.indexOf('--requirepass');
  if (pass < 0)
    problems.push(`${at('redis')}: runs without --requirepass: any container on the network may use it`);
  else fromEnv(at('redis'), '--requirepass', redisCmd[pass + 1], 'REDIS_PASSWORD');
  // redis-cli (the healthcheck) authenticates with REDISCLI_AUTH.
  fromEnv(at('redis'), 'REDISCLI_AUTH', envOf(services.redis).REDISCLI_AUTH, 'REDIS_PASSWORD');
  for (const [name, s] of Object.entries(services)) {
    const env = envOf(s);
    for (const [key, secret] of [
      ['DATABASE_URL', 'POSTGRES_PASSWORD'],
      ['REDIS_URL', 'REDIS_PASSWORD'],
    ] as const) {
      const raw = env[key];
      if (raw === undefined) continue;
      const url = new URL(interpolate(raw, shell).value);
      if (!raw.includes(`\${${secret}:?`) || decodeURIComponent(url.password) !== (shell[secret] ?? ''))
        problems.push(`${at(name)}: ${key} does not carry \${${secret}:?…} as its password`);
    }
  }
  return problems;
}
