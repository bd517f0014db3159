import { readFileSync } from 'node:fs';
import { startStack } from '../support/stack';

/**
 * The workflow bundle the workers run (written by writeWorkflowBundle, as npm start and the image
 * do) carries its source map without the original sources, and stack traces still name our
 * TypeScript files: checked with the stack trace query the Web UI sends, on a real Temporal server.
 */
let s: Awaited<ReturnType<typeof startStack>>;

beforeAll(async () => {
  // No GPU worker: the request's workflow waits on its model call, so it has a stack to show.
  s = await startStack({ gpu: false });
}, 120_000);
afterAll(async () => {
  await s?.stop();
});

test('the inline source map keeps its mappings and drops sourcesContent', () => {
  const code = readFileSync(process.env.TEST_WORKFLOW_BUNDLE!, 'utf8');
  const b64 = code.slice(code.lastIndexOf('base64,') + 'base64,'.length).trim();
  const map = JSON.parse(Buffer.from(b64, 'base64').toString()) as Record<string, unknown>;
  expect(map.sourcesContent).toBeUndefined();
  expect(map.mappings).toEqual(expect.any(String));
  expect((map.mappings as string).length).toBeGreaterThan(1000);
  expect(map.sources).toEqual(
    expect.arrayContaining([expect.stringMatching(/workflows\/inference-workflow\.ts$/)]),
  );
});

test("a waiting workflow's stack trace query names workflows/inference-workflow.ts", async () => {
  const id = await s.submit('stack trace', 8);
  const handle = s.client.workflow.getHandle(id);
  let trace = '';
  // The first workflow task has to run before the workflow has a stack.
  for (let i = 0; i < 100 && !trace.includes('inference-workflow.ts'); i++) {
    trace = await handle.query<string>('__stack_trace').catch(() => '');
    if (!trace.includes('inference-workflow.ts')) await new Promise((r) => setTimeout(r, 100));
  }
  // Mapped to the TypeScript source: the await of the model call, at its line and column.
  expect(trace).toMatch(/at callModel \(.*workflows\/inference-workflow\.ts:\d+:\d+\)/);
  await handle.cancel();
});
