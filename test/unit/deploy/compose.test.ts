import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { type ComposeFile, composeProblems, composeSchemaErrors, parseCompose } from './support/compose';
import { interpolate } from './support/compose-interpolation';
import { imageOf } from './support/dockerfile';
import { changed, replaceOnce } from './support/mutate';
import { COMPOSE_FILE, DOCKERFILE } from './support/paths';
import { COMPOSE_SHELL } from './support/compose-shell';
import { placeholderSecrets } from './support/placeholder-secrets';

/** docker-compose.yml against the Compose Specification schema and the code (no Docker engine here). */
const text = readFileSync(COMPOSE_FILE, 'utf8');
const compose = parseCompose(text);
const image = imageOf(readFileSync(DOCKERFILE, 'utf8'));
const SHELL = COMPOSE_SHELL;

test('docker-compose.yml is valid against the compose-spec JSON schema', () => {
  expect(composeSchemaErrors(compose)).toEqual([]);
});

test('every service, env var, command, port and dependency agrees with the code', () => {
  expect(composeProblems(compose, image, SHELL)).toEqual([]);
  expect(Object.keys(compose.services).sort()).toEqual(
    [
      'api',
      'codec-server',
      'gpu-worker',
      'grafana',
      'migrate',
      'model-service',
      'orchestration-worker',
      'postgres',
      'prometheus',
      'prometheus-rules',
      'redis',
      'temporal',
      'temporal-setup',
      'temporal-ui',
    ].sort(),
  );
});

test('production mode: the admin token comes from the environment, and compose refuses to start without it', () => {
  expect(composeProblems(compose, image, { GRAFANA_ADMIN_PASSWORD: 'x' }).join('\n')).toMatch(
    /api: ADMIN_TOKEN needs ADMIN_TOKEN from the environment, which is unset/,
  );
  // A weak token from the environment is refused by the processes' config.
  expect(composeProblems(compose, image, { ...SHELL, ADMIN_TOKEN: 'dev-admin-token' }).join('\n')).toMatch(
    /api: config invalid: ADMIN_TOKEN: is unset or the development default/,
  );
});

test('the codec server: its token from the environment, a weak one refused, published on loopback only', () => {
  const { CODEC_SERVER_TOKEN: _unset, ...withoutToken } = SHELL;
  expect(composeProblems(compose, image, withoutToken).join('\n')).toMatch(
    /codec-server: CODEC_SERVER_TOKEN needs CODEC_SERVER_TOKEN from the environment, which is unset/,
  );
  expect(
    composeProblems(compose, image, { ...SHELL, CODEC_SERVER_TOKEN: 'dev-codec-token' }).join('\n'),
  ).toMatch(/codec-server: config invalid: CODEC_SERVER_TOKEN: is a development default/);
  expect(service(compose, 'codec-server').ports).toEqual(['127.0.0.1:8234:8234']);
  const written = replaceOnce(
    text,
    /CODEC_SERVER_TOKEN: \$\{CODEC_SERVER_TOKEN:\?[^}]*\}/.exec(text)![0],
    `CODEC_SERVER_TOKEN: '${SHELL.CODEC_SERVER_TOKEN}'`,
  );
  expect(composeProblems(parseCompose(written), image, SHELL).join('\n')).toMatch(
    /codec-server: CODEC_SERVER_TOKEN must come from the environment/,
  );
});

test('docker-compose.yml carries no development default or placeholder secret', () => {
  expect(placeholderSecrets(parseYaml(text, { merge: true }), 'docker-compose.yml')).toEqual([]);
});

test.each([
  ['the development admin token', 'dev-admin-token'],
  ['a development default behind the variable', '${ADMIN_TOKEN:-dev-admin-token}'],
  ['a change-me placeholder', 'change-me-0123456789abcdef0123456789abcdef'],
])('a compose file with %s as ADMIN_TOKEN is caught', (_name, value) => {
  const broken = replaceOnce(
    text,
    /ADMIN_TOKEN: \$\{ADMIN_TOKEN:\?[^}]*\}/.exec(text)![0],
    `ADMIN_TOKEN: '${value}'`,
  );
  expect(placeholderSecrets(parseYaml(broken, { merge: true }), 'docker-compose.yml').join('\n')).toMatch(
    /docker-compose.yml: services.api.environment.ADMIN_TOKEN: carries/,
  );
  expect(composeProblems(parseCompose(broken), image, SHELL).join('\n')).toMatch(
    /api: ADMIN_TOKEN must come from the environment/,
  );
});

test('interpolation follows compose: defaults, required variables, $$', () => {
  expect(interpolate('${A:-x}/${B-y}/${C:?no C}/$$D/$E', { A: '', B: '', E: 'e' })).toEqual({
    value: 'x///$D/e',
    missing: ['C'],
  });
  expect(interpolate('${A?a}${B:+set}', { A: '', B: 'b' })).toEqual({ value: 'set', missing: [] });
});

const service = (c: ComposeFile, name: string): ComposeFile['services'][string] => c.services[name]!;
/** Replaces a service's environment (anchors share one object between services). */
const withEnv = (c: ComposeFile, name: string, change: (env: Record<string, string>) => void): void => {
  const env = { ...(service(c, name).environment as Record<string, string>) };
  change(env);
  service(c, name).environment = env;
};
type Break = (c: ComposeFile) => void;

test.each<[string, Break, RegExp]>([
  ['ports as a map', (c) => void (service(c, 'api').ports = { bad: true } as never), /services\/api\/ports/],
  [
    'a numeric interval',
    (c) => void (service(c, 'redis').healthcheck!.interval = 2),
    /healthcheck\/interval: must be string/,
  ],
  ['an unknown service key', (c) => void (service(c, 'api').restrat = 'always'), /additional properties/],
])('a compose file with %s fails the schema', (_name, breakIt, expected) => {
  expect(composeSchemaErrors(changed(compose, breakIt)).join('\n')).toMatch(expected);
});

test.each<[string, Break, RegExp]>([
  [
    'an env var the config does not know',
    (c) => withEnv(c, 'api', (e) => void (e.DEV_API_KEYS = 'x')),
    /env DEV_API_KEYS is not in src\/config\/schema.ts/,
  ],
  [
    'an invalid config value',
    (c) => withEnv(c, 'api', (e) => void (e.LOG_LEVEL = 'verbose')),
    /api: config invalid: LOG_LEVEL/,
  ],
  [
    'a demo tenant key in production',
    (c) => withEnv(c, 'migrate', (e) => void (e.DEV_API_KEY = '${DEV_API_KEY:?set it}')),
    /migrate: config invalid: DEV_API_KEY: must be unset when APP_ENV=production/,
  ],
  [
    'a service in development mode',
    (c) => withEnv(c, 'api', (e) => void (e.APP_ENV = 'development')),
    /api: APP_ENV=development, expected production/,
  ],
  [
    'a secret given to the test double',
    (c) => withEnv(c, 'model-service', (e) => void (e.ADMIN_TOKEN = '${ADMIN_TOKEN:?set it}')),
    /model-service: the test double gets a secret/,
  ],
  [
    'the Temporal Web UI on every interface',
    (c) => void (service(c, 'temporal-ui').ports = ['8233:8080']),
    /temporal-ui: publishes 8233:8080 beyond loopback/,
  ],
  [
    'Grafana on every interface',
    (c) => void (service(c, 'grafana').ports = ['3000:3000']),
    /grafana: publishes 3000:3000 beyond loopback/,
  ],
  [
    'a provisioning file that does not exist',
    (c) =>
      void (service(c, 'grafana').volumes = [
        './manifests/observability/dashboard.json:/var/lib/grafana/dashboards/x.json',
      ]),
    /grafana mounts .\/manifests\/observability\/dashboard.json, which does not exist/,
  ],
  [
    'Temporal on SQLite',
    (c) => void (service(c, 'temporal').environment = { DB: 'sqlite' }),
    /temporal does not persist to the compose PostgreSQL/,
  ],
  [
    'an app process that may start before the search attributes exist',
    (c) => void delete (service(c, 'api').depends_on as Record<string, object>)['temporal-setup'],
    /api may start before the search attributes are registered/,
  ],
  [
    'worker metrics on every interface',
    (c) => void (service(c, 'gpu-worker').ports = ['9465:9465']),
    /gpu-worker: publishes 9465:9465 beyond loopback/,
  ],
  [
    'a drain grace longer than the stop grace',
    (c) => withEnv(c, 'gpu-worker', (e) => void (e.GPU_DRAIN_GRACE_S = '60')),
    /stop_grace_period 45s <= GPU_DRAIN_GRACE_S 60/,
  ],
  [
    'a healthcheck on the wrong port',
    (c) => withEnv(c, 'orchestration-worker', (e) => void (e.ORCHESTRATION_METRICS_PORT = '9999')),
    /healthcheck does not probe the process's port 9999/,
  ],
  [
    'a Temporal host that is no service',
    (c) => withEnv(c, 'api', (e) => void (e.TEMPORAL_ADDRESS = 'temporal-server:7233')),
    /TEMPORAL_ADDRESS points at temporal-server/,
  ],
  [
    'a GPU queue no model uses',
    (c) => withEnv(c, 'gpu-worker', (e) => void (e.GPU_TASK_QUEUES = 'gpu-large')),
    /serves gpu-large/,
  ],
  [
    'a missing entry point',
    (c) => void (service(c, 'api').command = ['dist/src/api/server.js']),
    /api: runs dist\/src\/api\/server.js, whose source src\/api\/server.ts does not exist/,
  ],
  [
    'a TypeScript entry point (the image has no tsx)',
    (c) => void (service(c, 'api').command = ['src/api/main.ts']),
    /api: runs src\/api\/main.ts, which is no compiled dist/,
  ],
  [
    'an unregistered search attribute',
    (c) =>
      void (service(c, 'temporal-setup').command = (service(c, 'temporal-setup').command as string[]).map(
        (a) => a.replace(' InferenceStatus', ''),
      )),
    /temporal-setup does not register search attribute InferenceStatus/,
  ],
  [
    'Temporal without the fairness config',
    (c) => void (service(c, 'temporal').volumes = []),
    /temporal lacks matching.useNewMatcher=true/,
  ],
  [
    'a dependency on an unknown service',
    (c) =>
      void ((service(c, 'api').depends_on as Record<string, object>).postgress = {
        condition: 'service_healthy',
      }),
    /unknown service postgress/,
  ],
  [
    'a long-running service without healthcheck',
    (c) => void delete service(c, 'gpu-worker').healthcheck,
    /gpu-worker: no healthcheck/,
  ],
])('a compose file with %s is caught', (_name, breakIt, expected) => {
  expect(composeProblems(changed(compose, breakIt), image, SHELL).join('\n')).toMatch(expected);
});
