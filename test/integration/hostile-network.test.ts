import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../dev/stack/free-port';
import { stackListenEnv } from '../../dev/stack/stack-listen';

/**
 * Issue 26, safe defaults, on the real processes as `npm start` runs them (development mode, its
 * listen settings): the model service's fault API and the codec server refuse requests without
 * their tokens, and neither answers on an interface other than loopback.
 */
const ROOT = join(__dirname, '..', '..');
const children: ChildProcess[] = [];
afterAll(async () => {
  await Promise.all(
    children
      .filter((c) => c.exitCode === null && c.signalCode === null)
      .map((c) => new Promise((r) => (c.once('exit', r), c.kill('SIGTERM')))),
  );
});

/** Starts `file` under tsx with `env` (development, npm start's listen settings); resolves once `ready` answers. */
async function start(file: string, env: Record<string, string>, ready: string): Promise<void> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, file)], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      APP_ENV: 'development',
      LOG_LEVEL: 'silent',
      ...stackListenEnv('127.0.0.1'),
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(proc);
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error(`${file} exited with ${proc.exitCode}: ${stderr}`);
    if (
      await fetch(ready).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${file} did not answer ${ready}: ${stderr}`);
}

/** This machine's first address other than loopback, where a listener on 0.0.0.0 would answer. */
const outsideAddress = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && !a.internal && a.family === 'IPv4')?.address;

/** Whether a TCP connection to `host:port` is accepted. */
const accepts = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect({ host, port, timeout: 2000 });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    s.once('timeout', () => (s.destroy(), resolve(false)));
  });

async function expectLoopbackOnly(port: number): Promise<void> {
  expect(await accepts('127.0.0.1', port)).toBe(true);
  // A machine with no other interface has nothing to reach from outside.
  if (outsideAddress)
    expect({ outsideAddress, accepted: await accepts(outsideAddress, port) }).toEqual({
      outsideAddress,
      accepted: false,
    });
}

test('the model service: /_faults is 401 without its token, nothing is faulted, and it listens on loopback only', async () => {
  const port = await freePort();
  const token = randomBytes(24).toString('hex');
  const url = `http://127.0.0.1:${port}`;
  await start(
    'dev/model-service/main.ts',
    { MODEL_SERVICE_PORT: String(port), MODEL_SERVICE_ADMIN_TOKEN: token, MODEL_SERVICE_MODELS: 'ref-small' },
    `${url}/health`,
  );
  const script = JSON.stringify({ script: [{ kind: 'status', status: 500, count: 1 }] });
  const put = (headers: Record<string, string>): Promise<Response> =>
    fetch(`${url}/_faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...headers },
      body: script,
    });
  const complete = (): Promise<Response> =>
    fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'ref-small', prompt: 'hi', max_tokens: 2 }),
    });

  expect((await put({})).status).toBe(401);
  expect((await put({ authorization: 'Bearer dev-admin-token' })).status).toBe(401);
  expect((await fetch(`${url}/_faults`, { method: 'DELETE' })).status).toBe(401);
  expect((await complete()).status).toBe(200);
  // The operator with the token still scripts faults.
  expect((await put({ authorization: `Bearer ${token}` })).status).toBe(200);
  expect((await complete()).status).toBe(500);
  await expectLoopbackOnly(port);
});

test('the codec server: an Origin-only decode is 401 in development too, the token decodes, loopback only', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  await start(
    'src/codec-server/main.ts',
    { CODEC_SERVER_PORT: String(port), PAYLOAD_KEYS: `dev:${randomBytes(32).toString('base64')}` },
    `${url}/healthz`,
  );
  const auth = { authorization: 'Bearer dev-codec-token' };
  const post = (path: string, body: unknown, headers: Record<string, string>): Promise<Response> =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers },
      body: JSON.stringify(body),
    });
  const secret = Buffer.from(JSON.stringify('the tenant prompt')).toString('base64');
  const plain = { metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: secret };
  const encoded = (await (await post('/encode', { payloads: [plain] }, auth)).json()) as {
    payloads: unknown[];
  };
  expect(JSON.stringify(encoded)).not.toContain(secret);

  for (const origin of ['http://127.0.0.1:8233', 'http://localhost:8233']) {
    const res = await post('/decode', encoded, { origin });
    expect({ origin, status: res.status }).toEqual({ origin, status: 401 });
    expect(await res.text()).not.toContain(secret);
    expect((await post('/encode', { payloads: [plain] }, { origin })).status).toBe(401);
  }
  const decoded = await post('/decode', encoded, { ...auth, origin: 'http://127.0.0.1:8233' });
  expect(decoded.status).toBe(200);
  expect(await decoded.text()).toContain(secret);
  await expectLoopbackOnly(port);
});
