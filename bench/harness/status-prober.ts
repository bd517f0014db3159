import { Worker } from 'node:worker_threads';

/**
 * The prober's loop, run in a worker thread: its own event loop, so a status GET's latency is the
 * system's and not the wait of the load generator's 50 clients on the benchmark's main thread.
 * Plain JavaScript (a worker thread does not load TypeScript); `fetch` is Node's.
 */
const PROBER = `
const { parentPort, workerData } = require('node:worker_threads');
const { url, headers, ids, everyMs } = workerData;
let on = true;
const latencies = [];
parentPort.on('message', () => { on = false; });
(async () => {
  while (on) {
    const id = ids[Math.floor(Math.random() * ids.length)];
    const t = performance.now();
    try {
      const res = await fetch(url + encodeURIComponent(id), { headers });
      await res.arrayBuffer();
      if (res.ok) latencies.push(performance.now() - t);
    } catch {
      // counted by its absence: the bench reports the GETs that answered
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  parentPort.postMessage(latencies);
})();
`;

/**
 * Status GETs of finished requests (`ids`), one every `everyMs`, from a worker thread, until the
 * returned `stop` is called; `stop` resolves to the latency of each GET that answered 2xx, ms.
 */
export function startStatusProber(o: {
  api: string;
  headers: Record<string, string>;
  ids: readonly string[];
  everyMs?: number;
}): { stop: () => Promise<number[]> } {
  const worker = new Worker(PROBER, {
    eval: true,
    workerData: {
      url: `${o.api}/v1/inference/`,
      headers: o.headers,
      ids: [...o.ids],
      everyMs: o.everyMs ?? 20,
    },
  });
  const done = new Promise<number[]>((resolve, reject) => {
    worker.once('message', (latencies: number[]) => resolve(latencies));
    worker.once('error', reject);
  });
  return {
    async stop() {
      worker.postMessage('stop');
      const latencies = await done;
      await worker.terminate();
      return latencies;
    },
  };
}
