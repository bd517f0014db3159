/**
 * Bundles the workflow code for the orchestration worker (WORKFLOW_BUNDLE_PATH); the Dockerfile runs
 * it at image build, `npm start` before it starts the worker.
 *
 *   tsx scripts/bundle-workflows.ts <out.js>
 */
import { resolve } from 'node:path';
import { writeWorkflowBundle } from '../src/runtime/workflow-bundle';

const out = resolve(process.argv[2] ?? 'dist/workflow-bundle.js');
writeWorkflowBundle(out).then(
  () => console.log(`workflow bundle written to ${out}`),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
