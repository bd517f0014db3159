import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import draft07 from 'ajv/dist/refs/json-schema-draft-07.json';
import { parse as parseYaml } from 'yaml';
import { defaultRegistry } from '../../../../src/models/model-registry';
import { FAIRNESS_DYNAMIC_CONFIG } from '../../../../dev/stack/temporal-dev-server';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../../../../src/shared/search-attributes';
import composeSpec from '../fixtures/compose-spec.json';
import { credentialProblems } from './compose-credentials';
import { interpolate, requiresFromEnvironment } from './compose-interpolation';
import type { Image } from './dockerfile';
import { entryFileProblem } from './entry-file';
import { envValueProblems, parseEnv, unknownEnvNames } from './env';
import { ROOT } from './paths';
import { isAppImage } from './workloads';
import { devEnvSchema } from '../../../../dev/config/schema';

export interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: unknown;
  environment?: Record<string, string> | string[];
  ports?: unknown[];
  restart?: string;
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean; [k: string]: unknown };
  stop_grace_period?: string;
  [k: string]: unknown;
}
export interface ComposeFile {
  services: Record<string, ComposeService>;
  [k: string]: unknown;
}

/** YAML anchors and `<<` merge keys resolved, as docker compose reads the file. */
export const parseCompose = (text: string): ComposeFile => parseYaml(text, { merge: true }) as ComposeFile;

const ajv = new Ajv({ allErrors: true, allowUnionTypes: true, strictTypes: false });
// The schema names draft-07 by its https address; ajv registers draft-07 under the http one.
ajv.addMetaSchema({ ...draft07, $id: 'https://json-schema.org/draft-07/schema' });
const validateCompose = ajv.compile(composeSpec);

/** Errors against the Compose Specification's JSON schema (fixtures/compose-spec.json). */
export function composeSchemaErrors(compose: unknown): string[] {
  if (validateCompose(compose)) return [];
  return (validateCompose.errors ?? []).map((e) => `docker-compose.yml${e.instancePath}: ${e.message}`);
}

/** A service's environment as written (before interpolation). */
const rawEnvOf = (s: ComposeService): Record<string, string> =>
  Array.isArray(s.environment)
    ? Object.fromEntries(
        s.environment.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      )
    : Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)]));
/** Variables that hold secrets: never written into the file, always `${NAME:?…}` from the environment. */
const SECRET_VARS = ['ADMIN_TOKEN', 'DEV_API_KEY', 'CODEC_SERVER_TOKEN', 'PAYLOAD_KEYS'];
/**
 * The process that is a test double (stands in for a GPU server): a dev tool, run from the dev tools'
 * image (dev/Dockerfile), never from the product's. Every app process is production.
 */
export const REFERENCE_MODEL_SERVICE = 'dist-dev/dev/model-service/main.js';
/** The Dockerfile of the dev tools' image, relative to the repository root (the build context). */
export const DEV_DOCKERFILE = 'dev/Dockerfile';
/** The dev tools' image (dev/Dockerfile), whatever registry and tag it is given. */
export const isDevImage = (image: unknown): boolean =>
  typeof image === 'string' && /(^|\/)durable-inference-dev([:@]|$)/.test(image);
/** The one process published on every interface: it authenticates every route. */
const PUBLIC_PROCESS = 'dist/src/api/main.js';
const commandOf = (s: ComposeService): string[] =>
  typeof s.command === 'string' ? s.command.split(/\s+/) : (s.command ?? []);
const seconds = (d: string | undefined): number | undefined => {
  const m = /^(\d+)(s|m)?$/.exec(d ?? '');
  return m ? Number(m[1]) * (m[2] === 'm' ? 60 : 1) : undefined;
};
/** Host of a URL or host:port value. */
const hostOf = (v: string): string => (v.includes('://') ? new URL(v).hostname : v.split(':')[0]!);

/** The port each long-running process of the image answers its health check on. */
const HEALTH_PORT: Record<string, (cfg: ReturnType<typeof parseEnv>) => number> = {
  'dist/src/api/main.js': (c) => c.API_PORT,
  'dist/workers/orchestration-worker.js': (c) => c.ORCHESTRATION_METRICS_PORT,
  'dist/workers/gpu-worker.js': (c) => c.GPU_METRICS_PORT,
  'dist/src/codec-server/main.js': (c) => c.CODEC_SERVER_PORT,
};

/** A published port's host address: `[ip:]host:container`, or the long form's host_ip. */
const hostIpOf = (p: unknown): string | undefined => {
  if (typeof p === 'object' && p !== null) return (p as { host_ip?: string }).host_ip;
  const parts = String(p).split(':');
  return parts.length === 3 ? parts[0] : undefined;
};

/**
 * Cross-checks of docker-compose.yml against the code, the config schema and the Dockerfile.
 * `shell` is the environment `docker compose` runs in (with .env), for `${VAR}` interpolation.
 */
export function composeProblems(
  compose: ComposeFile,
  image: Image,
  shell: Readonly<Record<string, string | undefined>>,
): string[] {
  const problems: string[] = [];
  const services = compose.services ?? {};
  const oneShot = new Set(
    Object.values(services).flatMap((s) =>
      Array.isArray(s.depends_on)
        ? []
        : Object.entries(s.depends_on ?? {})
            .filter(([, d]) => d.condition === 'service_completed_successfully')
            .map(([n]) => n),
    ),
  );
  for (const [name, s] of Object.entries(services)) {
    const where = `docker-compose.yml: ${name}`;
    const deps: Record<string, { condition?: string }> = Array.isArray(s.depends_on)
      ? Object.fromEntries(s.depends_on.map((d) => [d, {}]))
      : (s.depends_on ?? {});
    for (const [dep, d] of Object.entries(deps)) {
      if (!services[dep]) problems.push(`${where}: depends on unknown service ${dep}`);
      else if (d.condition === 'service_healthy' && !services[dep].healthcheck)
        problems.push(`${where}: waits for ${dep} to be healthy, which has no healthcheck`);
    }
    if (oneShot.has(name) && s.restart !== 'no')
      problems.push(`${where}: one-shot service needs restart: 'no'`);
    if (!oneShot.has(name) && !s.healthcheck) problems.push(`${where}: no healthcheck`);
    if (!isAppImage(s.image)) {
      if (isDevImage(s.image)) problems.push(...devServiceProblems(where, s, shell));
      for (const p of s.ports ?? [])
        if (hostIpOf(p) !== '127.0.0.1') problems.push(`${where}: publishes ${String(p)} beyond loopback`);
      continue;
    }

    const raw = rawEnvOf(s);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw)) {
      const { value, missing } = interpolate(v, shell);
      env[k] = value;
      problems.push(...missing.map((m) => `${where}: ${k} needs ${m} from the environment, which is unset`));
    }
    for (const k of SECRET_VARS)
      if (raw[k] !== undefined && !requiresFromEnvironment(raw[k], k))
        problems.push(`${where}: ${k} must come from the environment as \${${k}:?…}, not be written here`);
    const file = commandOf(s)[0];
    const appEnv = env.APP_ENV ?? 'production';
    if (appEnv !== 'production') problems.push(`${where}: APP_ENV=${appEnv}, expected production`);
    for (const p of s.ports ?? [])
      if (file !== PUBLIC_PROCESS && hostIpOf(p) !== '127.0.0.1')
        problems.push(`${where}: publishes ${String(p)} beyond loopback, but ${file} has no authentication`);
    if (s.entrypoint !== undefined) problems.push(`${where}: overrides the image's entry point`);
    if (!s.build) problems.push(`${where}: has no build, so the image would be pulled`);
    const entryProblem = entryFileProblem(file, image);
    if (entryProblem) problems.push(`${where}: ${entryProblem}`);
    problems.push(
      ...unknownEnvNames(Object.keys(env)).map((n) => `${where}: env ${n} is not in src/config/schema.ts`),
    );
    const invalid = envValueProblems(env);
    problems.push(...invalid.map((p) => `${where}: config invalid: ${p}`));
    if (invalid.length) continue;
    const cfg = parseEnv(env);
    for (const key of ['DATABASE_URL', 'REDIS_URL', 'TEMPORAL_ADDRESS', 'REFERENCE_MODEL_URL'] as const) {
      const value = env[key];
      if (value && !services[hostOf(value)])
        problems.push(`${where}: ${key} points at ${hostOf(value)}, not a service here`);
    }
    const port = file ? HEALTH_PORT[file]?.(cfg) : undefined;
    const test = [s.healthcheck?.test ?? []].flat().join(' ');
    if (port !== undefined && !test.includes(`127.0.0.1:${port}/`))
      problems.push(`${where}: healthcheck does not probe the process's port ${port}`);
    if (file === 'dist/workers/gpu-worker.js') {
      const grace = seconds(s.stop_grace_period) ?? 10;
      if (grace <= cfg.GPU_DRAIN_GRACE_S)
        problems.push(`${where}: stop_grace_period ${grace}s <= GPU_DRAIN_GRACE_S ${cfg.GPU_DRAIN_GRACE_S}`);
      const queues = cfg.MODEL_REGISTRY
        ? undefined
        : [...defaultRegistry(cfg.REFERENCE_MODEL_URL).queues().keys()];
      for (const q of (cfg.GPU_TASK_QUEUES ?? '').split(',').filter(Boolean))
        if (queues && !queues.includes(q))
          problems.push(`${where}: serves ${q}, not a queue of the registry`);
    }
  }
  problems.push(
    ...temporalProblems(services),
    ...missingBindMounts(compose),
    ...credentialProblems(compose, shell).filter((p) => !problems.includes(p)),
  );
  return problems;
}

/**
 * The reference model service in the dev tools' image: built from dev/Dockerfile, running the
 * compiled model service, its environment valid under the dev tools' schema (dev/config/schema.ts),
 * no secret, its fault API off or guarded by its token, its health check on its port.
 */
function devServiceProblems(
  where: string,
  s: ComposeService,
  shell: Readonly<Record<string, string | undefined>>,
): string[] {
  const problems: string[] = [];
  const build = (typeof s.build === 'object' ? s.build : {}) as { context?: string; dockerfile?: string };
  if (build.dockerfile !== DEV_DOCKERFILE || (build.context ?? '.') !== '.')
    problems.push(
      `${where}: the dev image is not built from ${DEV_DOCKERFILE} with the repository as its context`,
    );
  const file = commandOf(s)[0];
  if (file !== REFERENCE_MODEL_SERVICE)
    problems.push(`${where}: runs ${file}, not ${REFERENCE_MODEL_SERVICE}`);
  else if (!existsSync(join(ROOT, 'dev/model-service/main.ts')))
    problems.push(`${where}: runs ${file}, whose source dev/model-service/main.ts does not exist`);
  const raw = rawEnvOf(s);
  if (Object.keys(raw).some((k) => SECRET_VARS.includes(k)))
    problems.push(`${where}: the test double gets a secret`);
  const env = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, interpolate(v, shell).value]));
  const names = new Set(Object.keys(devEnvSchema.shape));
  problems.push(
    ...Object.keys(env)
      .filter((n) => !names.has(n))
      .map((n) => `${where}: env ${n} is not in dev/config/schema.ts`),
  );
  const parsed = devEnvSchema.safeParse(env);
  if (!parsed.success)
    return [
      ...problems,
      ...parsed.error.issues.map((i) => `${where}: config invalid: ${i.path.join('.')}: ${i.message}`),
    ];
  const cfg = parsed.data;
  if (cfg.FAULT_API_ENABLED && !cfg.MODEL_SERVICE_ADMIN_TOKEN)
    problems.push(
      `${where}: fault API on without MODEL_SERVICE_ADMIN_TOKEN: the model service refuses to start`,
    );
  const test = [s.healthcheck?.test ?? []].flat().join(' ');
  if (!test.includes(`127.0.0.1:${cfg.MODEL_SERVICE_PORT}/`))
    problems.push(`${where}: healthcheck does not probe the process's port ${cfg.MODEL_SERVICE_PORT}`);
  return problems;
}

const NO_TEMPORAL = ['dist/src/db/migrate-cli.js', 'dist/src/codec-server/main.js'];

/** Bind-mount sources (`./path:target`) of every service that do not exist in the repository. */
export function missingBindMounts(compose: ComposeFile): string[] {
  return Object.entries(compose.services ?? {}).flatMap(([name, s]) =>
    ((s.volumes ?? []) as unknown[])
      .map((v) => (typeof v === 'string' ? v.split(':')[0]! : ''))
      .filter((src) => src.startsWith('./') && !existsSync(join(ROOT, src)))
      .map((src) => `docker-compose.yml: ${name} mounts ${src}, which does not exist`),
  );
}

/**
 * Temporal on the compose PostgreSQL with the fairness dynamic config of `npm start`, a one-shot
 * service registering the search attributes before any app process starts, and the Web UI.
 */
function temporalProblems(services: Record<string, ComposeService>): string[] {
  const t = services.temporal;
  if (!t) return ['docker-compose.yml: no temporal service'];
  const problems: string[] = [];
  const env = rawEnvOf(t);
  if (env.DB !== 'postgres12' || !services[env.POSTGRES_SEEDS ?? ''])
    problems.push('docker-compose.yml: temporal does not persist to the compose PostgreSQL (DB=postgres12)');
  const mount = ((t.volumes ?? []) as string[]).find((v) => v.split(':')[1] === env.DYNAMIC_CONFIG_FILE_PATH);
  const file = mount ? join(ROOT, mount.split(':')[0]!) : undefined;
  const dynamic =
    file && existsSync(file) ? (parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  for (const kv of FAIRNESS_DYNAMIC_CONFIG) {
    const [key, value] = kv.split('=');
    if (JSON.stringify(dynamic[key!]) !== JSON.stringify([{ value: JSON.parse(value!) }]))
      problems.push(`docker-compose.yml: temporal lacks ${kv}`);
  }
  const setup = services['temporal-setup'];
  const script = setup ? commandOf(setup).join(' ') : '';
  const listed = /for sa in ([\w ]+); do/.exec(script)?.[1]?.split(' ') ?? [];
  for (const [k, type] of Object.entries(SEARCH_ATTRIBUTE_REGISTRATIONS))
    if (!listed.includes(k) || !script.includes(`--type ${type}`))
      problems.push(`docker-compose.yml: temporal-setup does not register search attribute ${k}`);
  for (const [name, svc] of Object.entries(services))
    // The migrations and the codec server do not talk to Temporal (nor does the dev image's model service).
    if (isAppImage(svc.image) && !NO_TEMPORAL.includes(commandOf(svc)[0] ?? '')) {
      const deps = (Array.isArray(svc.depends_on) ? {} : (svc.depends_on ?? {})) as Record<
        string,
        { condition?: string }
      >;
      if (deps['temporal-setup']?.condition !== 'service_completed_successfully')
        problems.push(`docker-compose.yml: ${name} may start before the search attributes are registered`);
    }
  if (!(services['temporal-ui']?.ports ?? []).some((x) => String(x).startsWith('127.0.0.1:8233:')))
    problems.push('docker-compose.yml: temporal-ui does not publish the Web UI on 127.0.0.1:8233');
  return problems;
}
