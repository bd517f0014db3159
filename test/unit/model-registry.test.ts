import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  defaultRegistry,
  loadRegistry,
  loadRegistryFile,
  RegistryError,
} from '../../src/models/model-registry';

const dir = mkdtempSync(join(tmpdir(), 'registry-test-'));
const write = (name: string, text: string): string => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

test('YAML registry with defaults filled in', () => {
  const r = loadRegistryFile(
    write(
      'a.yaml',
      'models:\n  - name: llama\n    protocol: openai\n    base_url: http://vllm:8000\n    gpu_task_queue: gpu-llama\n',
    ),
  );
  expect(r.get('llama')).toMatchObject({
    gpu_slots_per_worker: 8,
    max_attempts: 5,
    context_length: 8192,
    tokenizer: 'cl100k_base',
  });
  expect([...r.queues().keys()]).toEqual(['gpu-llama']);
});

test('JSON registry, several models on queues', () => {
  const r = loadRegistryFile(
    write(
      'b.json',
      JSON.stringify({
        models: [
          { name: 'a', protocol: 'openai', base_url: 'http://a', gpu_task_queue: 'q1' },
          { name: 'b', protocol: 'kserve-v2', base_url: 'http://b', gpu_task_queue: 'q1' },
          { name: 'c', protocol: 'openai', base_url: 'http://c', gpu_task_queue: 'q2' },
        ],
      }),
    ),
  );
  expect(r.names()).toEqual(['a', 'b', 'c']);
  expect(
    r
      .queues()
      .get('q1')!
      .map((m) => m.name),
  ).toEqual(['a', 'b']);
});

test('invalid registries name the file and the offending entry', () => {
  expect(() =>
    loadRegistryFile(write('c.yaml', 'models:\n  - name: x\n    protocol: grpc\n    base_url: http://x\n')),
  ).toThrow(/c\.yaml: models\.0\.protocol/);
  expect(() => loadRegistryFile(join(dir, 'missing.yaml'))).toThrow(RegistryError);
  expect(() =>
    loadRegistryFile(
      write(
        'd.json',
        JSON.stringify({
          models: [1, 2].map(() => ({ name: 'dup', protocol: 'openai', base_url: 'http://x' })),
        }),
      ),
    ),
  ).toThrow(/declared twice/);
});

test('without MODEL_REGISTRY the reference models are served', () => {
  expect(loadRegistry({ REFERENCE_MODEL_URL: 'http://127.0.0.1:8090' }).names()).toEqual([
    'ref-small',
    'ref-large',
  ]);
  expect(defaultRegistry('http://x').get('ref-small')!.base_url).toBe('http://x');
});
