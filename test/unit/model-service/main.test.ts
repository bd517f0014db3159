import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

const repoRoot = resolve(__dirname, '../../..');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Resolves with the first JSON log line whose msg matches. */
function logLine(child: ChildProcess, msg: string): Promise<any> {
  return new Promise((resolveLine, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const parsed = JSON.parse(line);
      if (parsed.msg === msg) resolveLine(parsed);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before logging "${msg}"`)));
  });
}

let child: ChildProcess | undefined;
afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

test('main: listens on MODEL_SERVICE_PORT, logs one line, drains on SIGTERM and exits 0', async () => {
  const port = await freePort();
  child = spawn(process.execPath, ['--import', 'tsx', 'dev/model-service/main.ts'], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH,
      APP_ENV: 'development',
      MODEL_SERVICE_PORT: String(port),
      MODEL_SERVICE_SLOTS: '3',
      MODEL_SERVICE_MODELS: 'alpha, beta',
      MODEL_SERVICE_DECODE_MS_PER_TOKEN: '5',
      MODEL_SERVICE_HOST: '127.0.0.1',
      MODEL_SERVICE_ADMIN_TOKEN: 'main-test-admin-token',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
  const listening = await logLine(child, 'model service listening');
  expect(listening).toMatchObject({
    component: 'model-service',
    host: '127.0.0.1',
    port,
    slots: 3,
    models: ['alpha', 'beta'],
    faultApi: true,
  });

  const url = `http://127.0.0.1:${port}`;
  const list = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] };
  expect(list.data.map((d) => d.id)).toEqual(['alpha', 'beta']);
  // 100 tokens at 5 ms: in flight when SIGTERM comes, and finished within the grace period.
  const running = fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'alpha', prompt: 'x', max_tokens: 100 }),
  });
  for (let i = 0; i < 200; i++) {
    if ((((await (await fetch(`${url}/_stats`)).json()) as any).in_flight as number) === 1) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill('SIGTERM');
  const res = await running;
  expect(res.status).toBe(200);
  expect(((await res.json()) as any).usage.completion_tokens).toBe(100);
  expect(await exited).toBe(0);
});

test('main: with the fault API on and no MODEL_SERVICE_ADMIN_TOKEN it refuses to start, naming it', async () => {
  child = spawn(process.execPath, ['--import', 'tsx', 'dev/model-service/main.ts'], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, APP_ENV: 'development', MODEL_SERVICE_PORT: String(await freePort()) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((r) => child!.once('exit', (c) => r(c)));
  expect(code).toBe(1);
  expect(stderr).toMatch(/MODEL_SERVICE_ADMIN_TOKEN/);
});
