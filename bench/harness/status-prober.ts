import { Worker } from 'node:worker_threads';

/**
 * The prober's loop, run in a worker thread: its own event loop, so a status GET's latency is the
 * system's and not the wait of the load generator's 50 clients on the benchmark's main thread.
 * Plain JavaScript (a worker thread does not load TypeScript); the client is `node:http` on one
 * kept-alive connection, as in the load generator (http-client.ts): a lighter client than `fetch`,
 * whose own cost would show in the latency measured.
 */
const PROBER = `
const http = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
const { url, headers, ids, everyMs } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = (target) =>
  new Promise((resolve, reject) => {
    const req = http.request(target, { headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
const latencies = [];
let errors = 0;
let on = true;
// Nothing finished to read: no GETs, and the stop is answered at once.
const idle = ids.length === 0;
parentPort.on('message', () => {
  on = false;
  if (idle) parentPort.postMessage({ latencies, errors });
});
(async () => {
  while (on && !idle) {
    const id = ids[Math.floor(Math.random() * ids.length)];
    const t = performance.now();
    try {
      const status = await get(url + encodeURIComponent(id));
      if (status >= 200 && status < 300) latencies.push(performance.now() - t);
      else errors++;
    } catch {
      errors++;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  if (!idle) parentPort.postMessage({ latencies, errors });
})();
`;

/**
 * Status GETs of finished requests (`ids`), one every `everyMs`, from a worker thread, until the
 * returned `stop` is called; `stop` resolves to the latency of each GET that answered 2xx (ms) and
 * how many did not (an HTTP error or a failed call). No ids: no GETs.
 */
export function startStatusProber(o: {
  api: string;
  headers: Record<string, string>;
  ids: readonly string[];
  everyMs?: number;
}): { stop: () => Promise<{ latencies: number[]; errors: number }> } {
  const worker = new Worker(PROBER, {
    eval: true,
    workerData: {
      url: `${o.api}/v1/inference/`,
      headers: o.headers,
      ids: [...o.ids],
      everyMs: o.everyMs ?? 20,
    },
  });
  const done = new Promise<{ latencies: number[]; errors: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    async stop() {
      worker.postMessage('stop');
      const result = await done;
      await worker.terminate();
      return result;
    },
  };
}
