import { readFileSync } from 'node:fs';
import { composeProblems, parseCompose } from './support/compose';
import { imageOf } from './support/dockerfile';
import { replaceOnce } from './support/mutate';
import { COMPOSE_FILE, DOCKERFILE } from './support/paths';
import { COMPOSE_SHELL } from './support/compose-shell';

/** docker-compose.yml without default credentials: issue 26 (it had postgres/postgres and no Redis AUTH). */
const text = readFileSync(COMPOSE_FILE, 'utf8');
const image = imageOf(readFileSync(DOCKERFILE, 'utf8'));
const SHELL = COMPOSE_SHELL;
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
  const { [name]: _unset, ...shell } = SHELL;
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
