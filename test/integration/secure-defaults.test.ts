import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';

/**
 * Secure by default, tried on the real entry points: outside APP_ENV=development a process refuses to
 * start with a known or short secret, and the migration seeds no demo tenant.
 */
const ROOT = join(__dirname, '..', '..');
const STRONG = randomBytes(32).toString('hex');

interface Run {
  code: number | null;
  output: string;
}

/** Runs an entry point with exactly `env` (plus PATH/HOME) and returns how it exited. */
function run(file: string, env: Record<string, string>, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, file)], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${file} still running after ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const dbName = `secure_${randomBytes(4).toString('hex')}`;
const admin = (): Client =>
  new Client({
    connectionString: process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  });
const dbUrl = (): string => {
  const u = new URL(process.env.TEST_DATABASE_URL!);
  u.pathname = `/${dbName}`;
  return u.toString();
};

afterAll(async () => {
  const c = admin();
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await c.end();
});

test.each([
  ['no ADMIN_TOKEN (the development default applies)', {}, /ADMIN_TOKEN/],
  ['the development default', { ADMIN_TOKEN: 'dev-admin-token' }, /ADMIN_TOKEN/],
  ['a manifest placeholder', { ADMIN_TOKEN: 'change-me-admin-token-0123456789abcdef' }, /ADMIN_TOKEN/],
  ['a short token', { ADMIN_TOKEN: 'short-but-not-default' }, /ADMIN_TOKEN: must be at least 32/],
  ['a DEV_API_KEY', { ADMIN_TOKEN: STRONG, DEV_API_KEY: 'dev-demo-key' }, /DEV_API_KEY: must be unset/],
])('the API refuses to start in production with %s', async (_name, env, message) => {
  const r = await run('src/api/main.ts', { APP_ENV: 'production', DATABASE_URL: dbUrl(), ...env });
  expect(r.code).not.toBe(0);
  expect(r.output).toMatch(message);
});

test('the workers refuse the development admin token in production too', async () => {
  for (const file of ['workers/orchestration-worker.ts', 'workers/gpu-worker.ts']) {
    const r = await run(file, { APP_ENV: 'production', ADMIN_TOKEN: 'dev-admin-token' });
    expect({ file, code: r.code === 0 ? 0 : 'refused' }).toEqual({ file, code: 'refused' });
    expect(r.output).toMatch(/ADMIN_TOKEN/);
  }
});

test('the API, the workers and the codec server refuse to start in production without payload keys', async () => {
  const env = {
    APP_ENV: 'production',
    ADMIN_TOKEN: STRONG,
    DATABASE_URL: dbUrl(),
    TEMPORAL_ADDRESS: '127.0.0.1:1',
  };
  for (const file of ['src/api/main.ts', 'workers/orchestration-worker.ts', 'workers/gpu-worker.ts']) {
    const r = await run(file, env);
    expect({ file, code: r.code === 0 ? 0 : 'refused' }).toEqual({ file, code: 'refused' });
    expect(r.output).toMatch(/PAYLOAD_KEYS: is required when APP_ENV=production.*PAYLOAD_ENCRYPTION=off/);
  }
  const codec = await run('src/codec-server/main.ts', { ...env, PAYLOAD_ENCRYPTION: 'off' });
  expect(codec.code).not.toBe(0);
  expect(codec.output).toMatch(/CODEC_SERVER_TOKEN: is required when APP_ENV=production/);
});

test('migrating in production seeds no demo tenant; development seeds it', async () => {
  const prod = await run('src/db/migrate-cli.ts', {
    APP_ENV: 'production',
    ADMIN_TOKEN: STRONG,
    DATABASE_URL: dbUrl(),
  });
  expect(prod.output).toMatch(/no demo tenant outside development/);
  expect(prod.code).toBe(0);
  const c = new Client({ connectionString: dbUrl() });
  await c.connect();
  try {
    expect((await c.query('SELECT id FROM tenants')).rows).toEqual([]);
    expect((await c.query('SELECT 1 FROM api_keys')).rowCount).toBe(0);
    const dev = await run('src/db/migrate-cli.ts', { APP_ENV: 'development', DATABASE_URL: dbUrl() });
    expect(dev.code).toBe(0);
    expect((await c.query('SELECT id FROM tenants')).rows).toEqual([{ id: 'demo' }]);
  } finally {
    await c.end();
  }
});
