/**
 * Memory settings of every long-running Node process: npm start's stack applies them to its
 * children ({@link withMemorySettings}) and the image sets the same as `ENV` (the Dockerfile test
 * holds the two together).
 *
 * - `--max-semi-space-size=2` (MiB): V8 grows each isolate's young generation up to 16 MiB per
 *   semi-space under load and keeps it; a worker has two isolates (its main thread and the workflow
 *   thread). Short-lived request objects are collected just as well in 2 MiB.
 * - `MALLOC_ARENA_MAX=2`: glibc gives each thread that allocates (the Temporal core's Rust threads,
 *   libuv's pool) an arena of its own, and each keeps what was freed in it.
 *
 * Measured on npm start's stack (2 cores, 800 requests from 50 clients, model at 0 ms/token), RSS MiB
 * without / with: orchestration worker at rest 139–186 / 126, after the load 261–267 / 155; GPU
 * worker 157 / 112, 181–198 / 128; API 90–92 / 84, 121–149 / 104. Throughput within noise
 * (docs/benchmarks.md has the benchmark's figures).
 */
export const MEMORY_SETTINGS = {
  nodeOptions: '--max-semi-space-size=2',
  mallocArenaMax: '2',
} as const;

/**
 * `env` with the memory settings added: `NODE_OPTIONS` gains the V8 flag unless it sets the young
 * generation already, and `MALLOC_ARENA_MAX` is kept when given.
 */
export function withMemorySettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const nodeOptions = env.NODE_OPTIONS ?? '';
  return {
    ...env,
    NODE_OPTIONS: /--max-semi-space-size/.test(nodeOptions)
      ? nodeOptions
      : `${nodeOptions} ${MEMORY_SETTINGS.nodeOptions}`.trim(),
    MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX || MEMORY_SETTINGS.mallocArenaMax,
  };
}
