import type { ChildProcess } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exitOf, hasExited } from '../../dev/stack/child-exit';
import { freePort } from '../../dev/stack/free-port';
import {
  localModelFiles,
  startLlamaServer,
  waitLlamaServer,
  type LocalModelFiles,
} from '../../dev/stack/local-model';

/** A real llama-server (scripts/local-model.sh's build, Gemma 3 270M) that a test can kill and restart. */
export interface LlamaServer {
  url: string;
  port: number;
  /** Kills it with SIGKILL (a crash) and waits for it to be gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port and waits until the model is loaded. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts llama-server with `slots` slots of `contextPerSlot` tokens on a free loopback port. */
export async function startTestLlamaServer(o: {
  name: string;
  slots: number;
  contextPerSlot: number;
}): Promise<LlamaServer> {
  // Set by scripts/test.sh; else the script runs here (instant once cached).
  const files: LocalModelFiles = localModelFiles({
    bin: process.env.LLAMA_SERVER_BIN,
    gguf: process.env.LOCAL_MODEL_GGUF,
  });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = startLlamaServer({ ...files, ...o, port });
    await waitLlamaServer(url, 120_000, child);
  };
  const kill = async (): Promise<void> => {
    if (child && !hasExited(child)) {
      child.kill('SIGKILL');
      await exitOf(child);
    }
  };
  await start();
  return { url, port, kill, restart: start, stop: kill };
}

/**
 * A proxy in front of a model server that removes `usage` from its streamed chunks, as servers that
 * send none do (llama-cpp-python's server, older vLLM); everything else passes through unchanged.
 */
export async function usageStrippingProxy(target: string): Promise<{
  url: string;
  server: Server;
  /** The usage the server sent for each generation, in order (what the system never saw). */
  stripped: { prompt_tokens: number; completion_tokens: number }[];
}> {
  const t = new URL(target);
  const stripped: { prompt_tokens: number; completion_tokens: number }[] = [];
  const server = createServer((req, res) => {
    const up = request(
      { host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers },
      (upRes) => {
        const sse = String(upRes.headers['content-type'] ?? '').includes('text/event-stream');
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        if (!sse) return void upRes.pipe(res);
        let pending = '';
        upRes.on('data', (chunk: Buffer) => {
          pending += chunk.toString('utf8');
          const events = pending.split('\n\n');
          pending = events.pop()!;
          for (const e of events) {
            const data = e.startsWith('data: ') ? e.slice(6) : undefined;
            if (data && data !== '[DONE]') {
              const parsed = JSON.parse(data) as { usage?: any; choices?: unknown[] };
              if (parsed.usage) stripped.push(parsed.usage);
              delete parsed.usage;
              // The usage-only chunk (no choices) is dropped whole, as such a server never sends it.
              if (Array.isArray(parsed.choices) && parsed.choices.length === 0) continue;
              res.write(`data: ${JSON.stringify(parsed)}\n\n`);
            } else res.write(`${e}\n\n`);
          }
        });
        upRes.on('end', () => res.end(pending));
      },
    );
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, stripped };
}

/**
 * A proxy in front of a model server that cuts the next generation stream after `afterChunks`
 * chunks with text once armed (as a server crash mid-answer would), and passes everything else.
 */
export async function cuttingProxy(target: string): Promise<{
  url: string;
  server: Server;
  /** Cuts the next stream after that many chunks with text. */
  arm(afterChunks: number): void;
  /** The text the cut stream had sent before it was cut. */
  sentBeforeCut(): string;
  /** Bodies of the generation requests that came through, in order. */
  bodies: Record<string, unknown>[];
}> {
  const t = new URL(target);
  let armed: number | undefined;
  let sent = '';
  const bodies: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const generation = /completions$/.test(req.url ?? '');
      if (generation) bodies.push(JSON.parse(raw.toString('utf8')) as Record<string, unknown>);
      const cutAfter = generation ? armed : undefined;
      if (generation) armed = undefined;
      const up = request(
        { host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          if (cutAfter === undefined) return void upRes.pipe(res);
          sent = '';
          let pending = '';
          let n = 0;
          upRes.on('data', (chunk: Buffer) => {
            pending += chunk.toString('utf8');
            const events = pending.split('\n\n');
            pending = events.pop()!;
            for (const e of events) {
              const data = e.startsWith('data: ') ? e.slice(6) : undefined;
              const parsed = data && data !== '[DONE]' ? JSON.parse(data) : undefined;
              const piece: string = parsed?.choices?.[0]?.delta?.content ?? parsed?.choices?.[0]?.text ?? '';
              if (piece && n === cutAfter) {
                up.destroy();
                res.socket?.destroy();
                return;
              }
              if (piece) {
                n++;
                sent += piece;
              }
              res.write(`${e}\n\n`);
            }
          });
          upRes.on('end', () => res.end(pending));
        },
      );
      up.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      res.on('close', () => up.destroy());
      up.end(raw);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    arm: (afterChunks) => (armed = afterChunks),
    sentBeforeCut: () => sent,
    bodies,
  };
}
