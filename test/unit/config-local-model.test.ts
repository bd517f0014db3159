import { ConfigError } from '../../src/config/load-config';
import { loadDevConfig } from '../../dev/config/schema';
import { llamaServerArgs, localModelSpec } from '../../dev/stack/local-model';

const dev = (env: Record<string, string> = {}): ReturnType<typeof loadDevConfig> => loadDevConfig(env);

test('LOCAL_MODEL: off by default; gemma-3-270m with 4 slots of 2,048 tokens on :8092', () => {
  expect(dev().LOCAL_MODEL).toBeUndefined();
  const cfg = dev({ LOCAL_MODEL: 'gemma-3-270m' });
  expect(cfg).toMatchObject({
    LOCAL_MODEL: 'gemma-3-270m',
    LOCAL_MODEL_PORT: 8092,
    LOCAL_MODEL_SLOTS: 4,
    LOCAL_MODEL_CONTEXT: 2048,
  });
});

test('LOCAL_MODEL: an unknown model or a bad slot count is refused by name', () => {
  for (const [name, value] of [
    ['LOCAL_MODEL', 'gemma-7b'],
    ['LOCAL_MODEL_SLOTS', '0'],
    ['LOCAL_MODEL_PORT', '70000'],
  ] as const) {
    try {
      dev({ [name]: value });
      throw new Error(`${name}=${value} was accepted`);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues.map((i) => i.variable)).toEqual([name]);
    }
  }
});

test('llama-server listens on loopback only, with its slots sharing one context of slots × per-slot', () => {
  const args = llamaServerArgs({
    bin: 'llama-server',
    gguf: '/m.gguf',
    name: 'gemma-3-270m',
    port: 8092,
    slots: 4,
    contextPerSlot: 2048,
  });
  const arg = (flag: string) => args[args.indexOf(flag) + 1];
  expect(arg('--host')).toBe('127.0.0.1');
  expect(arg('--parallel')).toBe('4');
  expect(arg('--ctx-size')).toBe('8192');
  expect(arg('--alias')).toBe('gemma-3-270m');
});

test('the local model is counted by its server, with one slot as its context', () => {
  const spec = localModelSpec({
    name: 'gemma-3-270m',
    baseUrl: 'http://127.0.0.1:8092',
    slots: 4,
    contextPerSlot: 2048,
  });
  expect(spec).toMatchObject({
    tokenizer: 'server',
    tokenize_api: 'llama.cpp',
    context_length: 2048,
    gpu_slots_per_worker: 4,
  });
});
