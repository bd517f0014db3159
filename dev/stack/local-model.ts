import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { DEFAULT_GPU_TASK_QUEUE } from '../../src/contract/temporal-contract';
import { modelSpecSchema, type ModelSpec } from '../../src/models/model-spec';
import { hasExited } from './child-exit';

/** Real models `LOCAL_MODEL` can name, each served by llama.cpp's llama-server on CPU. */
export const LOCAL_MODELS = ['gemma-3-270m'] as const;
export type LocalModelName = (typeof LOCAL_MODELS)[number];

const ROOT = resolve(__dirname, '..', '..');

/** The llama-server binary and the weights, from scripts/local-model.sh (built or fetched once, then cached). */
export interface LocalModelFiles {
  bin: string;
  gguf: string;
}

/**
 * Runs scripts/local-model.sh (a no-op after the first run: both are cached outside the work tree)
 * unless both paths are given. Its progress goes to this process's stderr.
 */
export function localModelFiles(given: { bin?: string; gguf?: string } = {}): LocalModelFiles {
  if (given.bin && given.gguf) return { bin: given.bin, gguf: given.gguf };
  const out = execFileSync('bash', [join(ROOT, 'scripts', 'local-model.sh')], {
    env: {
      ...process.env,
      ...(given.bin ? { LLAMA_SERVER_BIN: given.bin } : {}),
      ...(given.gguf ? { LOCAL_MODEL_GGUF: given.gguf } : {}),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  const value = (name: string): string => {
    const m = new RegExp(`^export ${name}='([^']*)'$`, 'm').exec(out);
    if (!m) throw new Error(`scripts/local-model.sh printed no ${name}`);
    return m[1]!;
  };
  return { bin: value('LLAMA_SERVER_BIN'), gguf: value('LOCAL_MODEL_GGUF') };
}

/** Options of {@link startLlamaServer}. */
export interface LlamaServerOptions extends LocalModelFiles {
  /** Name the server answers to in `model` (its alias). */
  name: string;
  port: number;
  /** Parallel slots: requests generated at once; more wait in the server's queue. */
  slots: number;
  /** Context of each slot, in tokens. */
  contextPerSlot: number;
  /** CPU threads for generation. @default 2 */
  threads?: number;
  /** Where its output goes. @default ignored */
  stdio?: 'ignore' | 'pipe';
}

/** Arguments of llama-server: loopback only, `slots` slots of `contextPerSlot` tokens each. */
export function llamaServerArgs(o: LlamaServerOptions): string[] {
  return [
    ...['--model', o.gguf, '--alias', o.name],
    ...['--host', '127.0.0.1', '--port', String(o.port)],
    ...['--parallel', String(o.slots), '--ctx-size', String(o.slots * o.contextPerSlot)],
    ...['--threads', String(o.threads ?? 2), '--no-webui'],
  ];
}

/** Starts llama-server; wait for it with {@link waitLlamaServer}. */
export function startLlamaServer(o: LlamaServerOptions): ChildProcess {
  return spawn(o.bin, llamaServerArgs(o), { stdio: ['ignore', o.stdio ?? 'ignore', o.stdio ?? 'ignore'] });
}

/** Resolves once llama-server's /health answers 200 (the model loaded). */
export async function waitLlamaServer(url: string, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && hasExited(child)) throw new Error(`llama-server exited (code ${child.exitCode})`);
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`llama-server did not answer at ${url}/health within ${timeoutMs} ms`);
}

/**
 * The registry entry of a local model: OpenAI protocol, tokens counted by llama-server itself
 * (`tokenizer: server`), context as one slot's, as many concurrent calls per GPU worker as slots.
 */
export function localModelSpec(o: {
  name: string;
  baseUrl: string;
  slots: number;
  contextPerSlot: number;
  gpuTaskQueue?: string;
}): ModelSpec {
  return modelSpecSchema.parse({
    name: o.name,
    protocol: 'openai',
    base_url: o.baseUrl,
    tokenizer: 'server',
    tokenize_api: 'llama.cpp',
    context_length: o.contextPerSlot,
    default_max_tokens: 128,
    gpu_task_queue: o.gpuTaskQueue ?? `${DEFAULT_GPU_TASK_QUEUE}-local`,
    gpu_slots_per_worker: o.slots,
    request_timeout_ms: 120_000,
  });
}
