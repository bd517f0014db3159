import { readFileSync } from 'node:fs';
import { composeProblems, parseCompose } from './support/compose';
import { imageOf } from './support/dockerfile';
import { replaceOnce } from './support/mutate';
import { COMPOSE_FILE, DOCKERFILE } from './support/paths';

/** docker-compose.yml without default credentials: issue 26 (it had postgres/postgres and no Redis AUTH). */
const text = readFileSync(COMPOSE_FILE, 'utf8');
const image = imageOf(readFileSync(DOCKERFILE, 'utf8'));
const SHELL = {
  ADMIN_TOKEN: '5f0e6c1d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d',
  GRAFANA_ADMIN_PASSWORD: '3c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f',
  PAYLOAD_KEYS: `k1:${Buffer.alloc(32, 9).toString('base64')}`,
  CODEC_SERVER_TOKEN: '8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b',
  POSTGRES_PASSWORD: '0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978',
  REDIS_PASSWORD: '9a8b7c6d5e4f30211203f4e5d6c7b8a99a8b7c6d5e4f3021',
};
const problems = (t: string, shell: Record<string, string> = SHELL): string =>
  composeProblems(parseCompose(t), image, shell).join('\n');

test('with both passwords set, the stores and every URL agree', () => {
  expect(problems(text)).toBe('');
  const c = parseCompose(text);
  const api = c.services.api!.environment as Record<string, string>;
  expect(api.DATABASE_URL).toMatch(/^postgres:\/\/postgres:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432\//);
  expect(api.REDIS_URL).toMatch(/^redis:\/\/:\$\{REDIS_PASSWORD:\?[^}]+\}@redis:6379$/);
  expect(c.services.redis!.command).toContain('--requirepass');
});

test.each(['POSTGRES_PASSWORD', 'REDIS_PASSWORD'])('compose refuses to start without %s', (name) => {
  const { [name as keyof typeof SHELL]: _unset, ...shell } = SHELL;
  const found = problems(text, shell);
  expect(found).toMatch(new RegExp(`needs ${name} from the environment, which is unset`));
  // Every service that uses it says so: the store itself and the app processes' URLs.
  const services =
    name === 'POSTGRES_PASSWORD' ? ['postgres', 'temporal', 'api', 'migrate'] : ['redis', 'api'];
  for (const s of services) expect(found).toMatch(new RegExp(`docker-compose.yml: ${s}: \\S+ needs ${name}`));
});

test.each<[string, RegExp, string, RegExp]>([
  [
    'the old postgres/postgres password',
    /POSTGRES_PASSWORD: \$\{POSTGRES_PASSWORD:\?[^}]*\}/,
    'POSTGRES_PASSWORD: postgres',
    /postgres: POSTGRES_PASSWORD must be \$\{POSTGRES_PASSWORD:\?…\}/,
  ],
  [
    'a password written into DATABASE_URL',
    /postgres:\/\/postgres:\$\{POSTGRES_PASSWORD:\?[^}]*\}@/,
    'postgres://postgres:postgres@',
    /api: DATABASE_URL does not carry \$\{POSTGRES_PASSWORD:\?…\}/,
  ],
  [
    'Redis without AUTH',
    / {6}- --requirepass\n {6}- \$\{REDIS_PASSWORD:\?[^}]*\}\n/,
    '',
    /redis: runs without --requirepass/,
  ],
  [
    'a REDIS_URL without the password',
    /redis:\/\/:\$\{REDIS_PASSWORD:\?[^}]*\}@redis:6379/,
    'redis://redis:6379',
    /api: REDIS_URL does not carry \$\{REDIS_PASSWORD:\?…\}/,
  ],
  [
    'a default behind the variable',
    /POSTGRES_PWD: \$\{POSTGRES_PASSWORD:\?[^}]*\}/,
    'POSTGRES_PWD: ${POSTGRES_PASSWORD:-postgres}',
    /temporal: POSTGRES_PWD must be \$\{POSTGRES_PASSWORD:\?…\}/,
  ],
  [
    'the model service fault API on without its token',
    /FAULT_API_ENABLED: 'false'/,
    "FAULT_API_ENABLED: 'true'",
    /model-service: fault API on without MODEL_SERVICE_ADMIN_TOKEN/,
  ],
])('a compose file with %s is caught', (_name, from, to, expected) => {
  expect(problems(replaceOnce(text, from.exec(text)![0], to))).toMatch(expected);
});
