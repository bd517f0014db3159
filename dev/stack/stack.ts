import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../src/config/load-config';
import { loadDevConfig } from '../config/schema';
import { ensureDatabase, migrate } from '../../src/db/migrate';
import { createPool } from '../../src/db/pool';
import { seedDevTenant } from '../../src/tenants/seed';
import { TenantsRepo } from '../../src/tenants/tenants-repo';
import { Connection } from '@temporalio/client';
import { writeWorkflowBundle } from '../../src/runtime/workflow-bundle';
import { registerSearchAttributes } from './search-attributes';
import { postgresAdvice, postgresAnswers, redisAnswers, startLocalRedis } from './local-services';
import { startTemporalDevServer, waitForTemporal } from './temporal-dev-server';
import { exitOf, hasExited } from './child-exit';
import { hostPort, stackListenEnv } from './stack-listen';
import { applyStackPriority, type StackRole } from './process-priority';
import { withMemorySettings } from '../../src/runtime/memory-settings';
import { loadRegistry } from '../../src/models/model-registry';
import { localModelFiles, localModelSpec, startLlamaServer, waitLlamaServer } from './local-model';

const ROOT = resolve(__dirname, '..', '..');
const DATA = join(ROOT, '.data');
const LOGS = join(DATA, 'logs');
const WORKFLOW_BUNDLE = join(DATA, 'workflow-bundle.js');

const t0 = Date.now();
const secs = (): string => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
let stepNo = 0;
let STEPS = 8;
async function step<T>(label: string, fn: () => Promise<T>): Promise<T> {
  stepNo++;
  process.stdout.write(`[${stepNo}/${STEPS}] ${label} ... `);
  const started = Date.now();
  const out = await fn();
  process.stdout.write(`ok (${Date.now() - started} ms)\n`);
  return out;
}

async function waitHttp(url: string, timeoutMs: number, child: ChildProcess, name: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (hasExited(child)) {
      const how = child.signalCode ? `signal ${child.signalCode}` : `code ${child.exitCode}`;
      throw new Error(`${name} exited (${how}); see ${join(LOGS, `${name}.log`)}`);
    }
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `${name} did not answer at ${url} within ${timeoutMs} ms; see ${join(LOGS, `${name}.log`)}`,
  );
}

/**
 * The development payload key, generated once and kept in .data/ beside the Temporal database whose
 * histories it encrypts, so they stay readable across restarts (delete both to start fresh).
 */
function devPayloadKeys(): string {
  const file = join(DATA, 'payload-keys');
  if (!existsSync(file)) writeFileSync(file, `dev:${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

/**
 * The reference model service's fault API token, generated once into .data/ (scripts such as
 * record-histories.sh read it there) unless MODEL_SERVICE_ADMIN_TOKEN is given.
 */
function devModelAdminToken(): string {
  const file = join(DATA, 'model-service-admin-token');
  if (!existsSync(file)) writeFileSync(file, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

/** `npm start`: the whole stack on one machine, with its data under .data/. */
async function main(): Promise<void> {
  mkdirSync(LOGS, { recursive: true });
  // A local stack is a development environment (development secrets, tenant demo) unless told otherwise.
  const appEnv = process.env.APP_ENV || 'development';
  // Histories are encrypted in development too, with a generated key unless PAYLOAD_KEYS is given.
  const stackEnv: NodeJS.ProcessEnv = {
    ...process.env,
    APP_ENV: appEnv,
    ...(appEnv === 'development' && !process.env.PAYLOAD_KEYS ? { PAYLOAD_KEYS: devPayloadKeys() } : {}),
  };
  // The product's settings and the dev tools' own (dev/config/schema.ts), both validated up front.
  const cfg = { ...loadConfig(stackEnv), ...loadDevConfig(stackEnv) };
  // Every listener of the stack on one address, loopback unless STACK_BIND_HOST says otherwise: the
  // development tokens are well known and the model service's fault API fails every request.
  const bind = cfg.STACK_BIND_HOST;
  const local = (port: number): string => `http://${hostPort(bind, port)}`;
  const temporalAddr = cfg.TEMPORAL_ADDRESS ?? hostPort(bind, cfg.STACK_TEMPORAL_PORT);
  const modelAdminToken =
    cfg.MODEL_SERVICE_ADMIN_TOKEN ?? (cfg.FAULT_API_ENABLED ? devModelAdminToken() : undefined);
  Object.assign(stackEnv, {
    ...stackListenEnv(bind),
    TEMPORAL_ADDRESS: temporalAddr,
    ...(modelAdminToken ? { MODEL_SERVICE_ADMIN_TOKEN: modelAdminToken } : {}),
  });
  const codecUrl = local(cfg.CODEC_SERVER_PORT);
  if (cfg.STACK_API_EAGER_OFF_PORT) STEPS++;
  const localModel = cfg.LOCAL_MODEL
    ? {
        name: cfg.LOCAL_MODEL,
        url: `http://127.0.0.1:${cfg.LOCAL_MODEL_PORT}`,
        registry: join(DATA, 'model-registry.json'),
      }
    : undefined;
  if (localModel) {
    STEPS++;
    // The API and the GPU worker read the registry the stack writes: yours (MODEL_REGISTRY) or the
    // built-in one, with the local model beside it.
    const models = [
      ...loadRegistry(cfg)
        .list()
        .filter((m) => m.name !== localModel.name),
      localModelSpec({
        name: localModel.name,
        baseUrl: localModel.url,
        slots: cfg.LOCAL_MODEL_SLOTS,
        contextPerSlot: cfg.LOCAL_MODEL_CONTEXT,
      }),
    ];
    writeFileSync(localModel.registry, `${JSON.stringify({ models }, null, 2)}\n`);
    stackEnv.MODEL_REGISTRY = localModel.registry;
  }
  // The Temporal SDK's metrics of the workers (schedule-to-start, workflow task failures): on by default here.
  const sdkPorts = {
    orchestration: cfg.ORCHESTRATION_SDK_METRICS_PORT ?? 9466,
    gpu: cfg.GPU_SDK_METRICS_PORT ?? 9467,
  };
  const children: { name: string; proc: ChildProcess }[] = [];
  let temporal: ChildProcess | undefined;
  let llama: ChildProcess | undefined;
  let localRedis: ChildProcess | undefined;

  const stopAll = async (): Promise<void> => {
    for (const { proc } of [...children].reverse()) proc.kill('SIGTERM');
    // A child that died of a signal (SIGKILL) has no exit code: waiting for its 'exit' again would
    // hang the shutdown and leave the Temporal server running.
    await Promise.all(children.map(({ proc }) => exitOf(proc)));
    if (localRedis && !hasExited(localRedis)) localRedis.kill('SIGTERM');
    if (llama && !hasExited(llama)) {
      llama.kill('SIGTERM');
      await exitOf(llama);
    }
    if (temporal && !hasExited(temporal)) {
      temporal.kill('SIGTERM');
      await exitOf(temporal);
    }
  };
  let stopping = false;
  const shutdown = (code: number): void => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping the stack ...');
    stopAll()
      .then(() => {
        console.log('stopped. Data kept in .data/ (delete it to start fresh).');
        process.exit(code);
      })
      .catch(() => process.exit(1));
  };
  process.on('SIGINT', () => shutdown(0));
  process.on('SIGTERM', () => shutdown(0));

  const spawnChild = (
    name: string,
    file: string,
    role: StackRole,
    extraEnv: Record<string, string> = {},
  ): ChildProcess => {
    const log = createWriteStream(join(LOGS, `${name}.log`), { flags: 'a' });
    // STACK_NODE_ARGS: extra node flags for every process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`
    // to profile the stack (docs/benchmarks.md); profiles are written when Ctrl-C stops it.
    // STACK_COMPILED=1 (npm start, after `npm run build` and `npm run build:dev`): run the compiled
    // JavaScript, the product's from dist/ (as the image does), the dev tools' from dist-dev/.
    const entry = cfg.STACK_COMPILED
      ? [join(ROOT, file.startsWith('dev/') ? 'dist-dev' : 'dist', file.replace(/\.ts$/, '.js'))]
      : ['--import', 'tsx', join(ROOT, file)];
    const proc = spawn(process.execPath, [...cfg.STACK_NODE_ARGS, ...entry], {
      cwd: ROOT,
      env: withMemorySettings({ ...stackEnv, ...extraEnv }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout?.pipe(log);
    proc.stderr?.pipe(log);
    proc.on('exit', (code, signal) => {
      if (!stopping) {
        const how = signal ? `signal ${signal}` : `code ${code}`;
        console.error(`\n${name} exited (${how}); last lines are in ${join(LOGS, `${name}.log`)}`);
        shutdown(1);
      }
    });
    children.push({ name, proc });
    applyStackPriority(proc, role, cfg.STACK_BACKGROUND_NICE);
    return proc;
  };

  try {
    await step(`PostgreSQL (${new URL(cfg.DATABASE_URL).host})`, async () => {
      if (!(await postgresAnswers(cfg.DATABASE_URL))) throw new Error(postgresAdvice(cfg.DATABASE_URL));
      await ensureDatabase(cfg.DATABASE_URL);
      const pool = createPool({ connectionString: cfg.DATABASE_URL, max: 2, applicationName: 'stack' });
      try {
        await migrate(pool);
        await seedDevTenant(new TenantsRepo(pool), cfg);
      } finally {
        await pool.end();
      }
    });
    await step(`Redis (${new URL(cfg.REDIS_URL).host})`, async () => {
      if (await redisAnswers(cfg.REDIS_URL)) return;
      localRedis = startLocalRedis(cfg.REDIS_URL, join(DATA, 'redis'));
      process.stdout.write('(started redis-server from PATH, nothing kept on disk) ');
      for (let i = 0; i < 50 && !(await redisAnswers(cfg.REDIS_URL)); i++)
        await new Promise((r) => setTimeout(r, 100));
      if (!(await redisAnswers(cfg.REDIS_URL)))
        throw new Error('redis-server was started but does not answer');
    });
    await step(
      cfg.TEMPORAL_ADDRESS ? `Temporal at ${temporalAddr}` : 'Temporal dev server (SQLite in .data/temporal)',
      async () => {
        if (!cfg.TEMPORAL_ADDRESS) {
          const cli = cfg.TEMPORAL_CLI;
          temporal = startTemporalDevServer({
            cli,
            dataDir: join(DATA, 'temporal'),
            // No --ui-codec-endpoint: the codec server wants its token and the dev Web UI cannot send
            // one; payloads show encrypted there (docs/operations.md: the CLI, or a proxy).
            host: bind,
            port: cfg.STACK_TEMPORAL_PORT,
            uiPort: cfg.STACK_TEMPORAL_UI_PORT,
            metricsPort: cfg.STACK_TEMPORAL_METRICS_PORT,
          });
          applyStackPriority(temporal, 'background', cfg.STACK_BACKGROUND_NICE);
        }
        await waitForTemporal(temporalAddr, 60_000, temporal);
        if (cfg.TEMPORAL_ADDRESS) {
          // Someone else's server: make sure the Web UI can filter by tenant, model and status.
          const connection = await Connection.connect({ address: temporalAddr });
          try {
            await registerSearchAttributes(connection, cfg.TEMPORAL_NAMESPACE);
          } finally {
            await connection.close();
          }
        }
      },
    );
    await step(`reference model service (:${cfg.MODEL_SERVICE_PORT})`, () =>
      waitHttp(
        `${local(cfg.MODEL_SERVICE_PORT)}/health`,
        30_000,
        spawnChild('model-service', 'dev/model-service/main.ts', 'background'),
        'model-service',
      ),
    );
    if (localModel) {
      await step(
        `local model ${localModel.name} (llama-server ${localModel.url}, ${cfg.LOCAL_MODEL_SLOTS} slots)`,
        async () => {
          // Built or fetched on the first start only (scripts/local-model.sh caches both).
          const files = localModelFiles({ bin: cfg.LLAMA_SERVER_BIN, gguf: cfg.LOCAL_MODEL_GGUF });
          llama = startLlamaServer({
            ...files,
            name: localModel.name,
            port: cfg.LOCAL_MODEL_PORT,
            slots: cfg.LOCAL_MODEL_SLOTS,
            contextPerSlot: cfg.LOCAL_MODEL_CONTEXT,
            stdio: 'pipe',
          });
          const log = createWriteStream(join(LOGS, 'llama-server.log'), { flags: 'a' });
          llama.stdout?.pipe(log);
          llama.stderr?.pipe(log);
          applyStackPriority(llama, 'background', cfg.STACK_BACKGROUND_NICE);
          await waitLlamaServer(localModel.url, 120_000, llama).catch((err: Error) => {
            throw new Error(`${err.message}; see ${join(LOGS, 'llama-server.log')}`);
          });
        },
      );
    }
    await step(`orchestration worker (metrics :${cfg.ORCHESTRATION_METRICS_PORT})`, () =>
      // Bundled here, once, so the worker process never loads webpack (as the image does it at build).
      writeWorkflowBundle(WORKFLOW_BUNDLE).then(() =>
        waitHttp(
          `${local(cfg.ORCHESTRATION_METRICS_PORT)}/healthz`,
          90_000,
          spawnChild('orchestration-worker', 'workers/orchestration-worker.ts', 'background', {
            ORCHESTRATION_SDK_METRICS_PORT: String(sdkPorts.orchestration),
            WORKFLOW_BUNDLE_PATH: WORKFLOW_BUNDLE,
          }),
          'orchestration-worker',
        ),
      ),
    );
    await step(`GPU worker (metrics :${cfg.GPU_METRICS_PORT})`, () =>
      waitHttp(
        `${local(cfg.GPU_METRICS_PORT)}/healthz`,
        60_000,
        spawnChild('gpu-worker', 'workers/gpu-worker.ts', 'background', {
          GPU_SDK_METRICS_PORT: String(sdkPorts.gpu),
        }),
        'gpu-worker',
      ),
    );
    await step(`API (:${cfg.API_PORT})`, () =>
      waitHttp(
        `${local(cfg.API_PORT)}/readyz`,
        60_000,
        // The API runs a workflow worker too (eager workflow start): the same pre-built bundle.
        spawnChild('api', 'src/api/main.ts', 'interactive', { WORKFLOW_BUNDLE_PATH: WORKFLOW_BUNDLE }),
        'api',
      ),
    );
    const offPort = cfg.STACK_API_EAGER_OFF_PORT;
    if (offPort) {
      await step(`API with eager start off (:${offPort}, benchmarks)`, () =>
        waitHttp(
          `${local(offPort)}/readyz`,
          60_000,
          spawnChild('api-eager-off', 'src/api/main.ts', 'interactive', {
            API_PORT: String(offPort),
            API_METRICS_PORT: String(offPort + 1),
            API_EAGER_START: 'false',
          }),
          'api-eager-off',
        ),
      );
    }
    await step(`codec server (:${cfg.CODEC_SERVER_PORT})`, () =>
      waitHttp(
        `${codecUrl}/healthz`,
        30_000,
        spawnChild('codec-server', 'src/codec-server/main.ts', 'background'),
        'codec-server',
      ),
    );
  } catch (err) {
    console.error(`\n\n${(err as Error).message}`);
    shutdown(1);
    return;
  }

  const api = local(cfg.API_PORT);
  const apiKey = cfg.DEV_API_KEY ?? '<your API key: no tenant demo outside APP_ENV=development>';
  console.log(`
Stack ready in ${secs()}, every listener on ${bind} (STACK_BIND_HOST).
  API             ${api}   (health ${api}/readyz, metrics ${local(cfg.API_METRICS_PORT)}/metrics)
  Temporal Web UI ${cfg.TEMPORAL_ADDRESS ? '(your Temporal server)' : local(cfg.STACK_TEMPORAL_UI_PORT)}
  Temporal gRPC   ${temporalAddr}${
    cfg.TEMPORAL_ADDRESS ? '' : `   (server metrics ${local(cfg.STACK_TEMPORAL_METRICS_PORT)}/metrics)`
  }
  Codec server    ${codecUrl}   (payloads are encrypted; the CLI decodes with it and the token below)
  Model service   ${local(cfg.MODEL_SERVICE_PORT)}   (fault API ${
    modelAdminToken
      ? `token in .data/model-service-admin-token or MODEL_SERVICE_ADMIN_TOKEN`
      : 'off: FAULT_API_ENABLED=false'
  })
  Worker metrics  ${local(cfg.ORCHESTRATION_METRICS_PORT)}/metrics  ${local(cfg.GPU_METRICS_PORT)}/metrics
  SDK metrics     ${local(sdkPorts.orchestration)}/metrics  ${local(sdkPorts.gpu)}/metrics
  Logs            ${LOGS}/
  CPU priority    ${
    cfg.STACK_BACKGROUND_NICE
      ? `the API first, the stack's other processes at nice ${cfg.STACK_BACKGROUND_NICE}`
      : 'every process alike'
  } (STACK_BACKGROUND_NICE)
  Tenant demo     API key ${apiKey}${
    localModel
      ? `
  Local model     ${localModel.name} on llama-server ${localModel.url} (log ${join(LOGS, 'llama-server.log')}; registry ${localModel.registry})`
      : ''
  }

Try it:
  curl -s -X POST ${api}/v1/inference -H 'Authorization: Bearer ${apiKey}' -H 'Content-Type: application/json' -d '{"model":"ref-small","prompt":"Hello, GPU!","max_tokens":32}'
then GET the Location it returns:
  curl -s ${api}/v1/inference/<id> -H 'Authorization: Bearer ${apiKey}'
${
  localModel
    ? `or, with the official openai client (npm's, from this directory):
  node -e "new (require('openai'))({baseURL:'${api}/v1',apiKey:'${apiKey}'}).chat.completions.create({model:'${localModel.name}',messages:[{role:'user',content:'Name three colours.'}],max_tokens:32}).then(r=>console.log(r.choices[0].message.content,r.usage))"
`
    : ''
}and read its workflow history, decrypted:
  temporal workflow show -w <id> --codec-endpoint ${codecUrl} --codec-auth 'Bearer ${cfg.CODEC_SERVER_TOKEN}'

Ctrl-C stops everything.`);
}

void main();
