import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';

// Workflow code runs in Temporal's deterministic sandbox: no Node builtins, no I/O clients, no
// activity implementations (types only). This list is the single place that rule lives.
const forbiddenInWorkflows = [
  ...[
    'fs',
    'net',
    'http',
    'https',
    'crypto',
    'child_process',
    'os',
    'path',
    'dns',
    'worker_threads',
    'timers',
  ].flatMap((m) => [m, `node:${m}`]),
  'pg',
  'ioredis',
  'express',
  'prom-client',
  'pino',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
];

// Workflows are started by typed reference (src/contract/temporal-contract.ts), never by a string
// name: a typo or a rename would start a type no worker knows, and the input would go unchecked.
const workflowName = ":matches(Literal, TemplateLiteral, MemberExpression[object.name='WorkflowType'])";
const startedByName = [
  `CallExpression[callee.property.name=/^(start|execute|signalWithStart)$/]:matches([callee.object.property.name='workflow'], [callee.object.name='workflow']) > ${workflowName}.arguments:first-child`,
  `CallExpression[callee.name=/^(startChild|executeChild)$/] > ${workflowName}.arguments:first-child`,
  `NewExpression[callee.name='WithStartWorkflowOperation'] > ${workflowName}.arguments:first-child`,
].map((selector) => ({
  selector,
  message: 'Start a workflow by its typed reference from src/contract/temporal-contract.ts, not by name.',
}));

// Import patterns of the layer rules below (relative imports: the project has no path aliases).
const aboveSrc = {
  regex: '^(\\.\\./)+(workflows|activities|workers)(/|$)',
  message:
    'src/ reaches workflows/, activities/ and workers/ only through src/contract/temporal-contract.ts (layers point down).',
};
const intoHttp = {
  regex: '^(\\.\\./)+api(/|$)',
  message:
    'Only the HTTP layer imports src/api: move what a domain module needs down (its domain, src/errors, src/db).',
};
const outOfBottom = {
  regex: '^\\.\\./(?!shared/|errors/|observability/)',
  message: 'src/shared, src/errors and src/observability are the bottom layer: they import only each other.',
};
// The contract names workflow code through its pure leaves only: importing a workflow function or the
// activities (even as a type) would close an import cycle back into src/ (workers/contract-signatures.ts
// checks the signatures instead).
const contractReach = {
  regex: '^\\.\\./\\.\\./(activities|workflows/(?!patches$|batch-types$|webhook-delivery-types$))',
  message:
    'src/contract imports only the pure leaves of workflows/ (patches, batch-types, webhook-delivery-types).',
};
// The product (src/, workflows/, activities/, workers/) never imports a dev tool (dev/: the reference
// model service, the local stack, their config schema): the image holds none (test/unit/deploy/no-dev-tools.test.ts).
const noDevTools = {
  regex: '^(\\.\\./)+dev(/|$)',
  message: 'The product does not import dev tools (dev/); move shared code into src/.',
};

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      'dist-dev/**',
      '.tools/**',
      '.data/**',
      'coverage/**',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    // import-x resolves the relative .ts imports itself (no resolver, it resolves none, and
    // import-x/no-cycle passes every cycle unseen).
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json', '.node'] })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      'no-restricted-syntax': ['error', ...startedByName],
    },
  },
  // Layers point down (docs/architecture.md, Layers): HTTP (src/api) -> domain services -> repositories,
  // clients and the bottom layer. Nothing under src/ imports the Temporal code above it (workflows/,
  // activities/, workers/) except the contract module, and nothing but src/api imports src/api.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/contract/**', 'src/api/main.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [aboveSrc, noDevTools] }] },
  },
  // The API's process main sits above the composition roots, as every main does; of those under
  // workers/ it reaches only its own workflow worker's (eager workflow start).
  {
    files: ['src/api/main.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { ...aboveSrc, regex: '^(\\.\\./)+(workflows|activities|workers(?!/build-api-worker$))(/|$)' },
            noDevTools,
          ],
        },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/contract/**', 'src/api/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [aboveSrc, intoHttp, noDevTools] }] },
  },
  {
    files: ['src/shared/**/*.ts', 'src/errors/**/*.ts', 'src/observability/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [aboveSrc, intoHttp, outOfBottom, noDevTools] }],
    },
  },
  {
    files: ['src/contract/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [intoHttp, contractReach, noDevTools] }] },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: forbiddenInWorkflows.map((name) => ({
            name,
            message: 'Workflows must stay deterministic and I/O-free.',
          })),
          patterns: [
            {
              group: ['../activities/*', '!../activities/index'],
              message: 'Import activities as types only.',
            },
            { regex: '^\\.\\./src/(?!shared/)', message: 'Workflows may import only src/shared.' },
            noDevTools,
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Date',
          property: 'now',
          message: 'Use workflow time (Date is deterministic in workflows, but be explicit).',
        },
        { object: 'Math', property: 'random', message: 'Use the workflow-provided deterministic random.' },
      ],
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../activities*'],
              allowTypeImports: true,
              message: 'Import activities as types only.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['activities/**/*.ts', 'workers/**/*.ts', 'src/contract/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noDevTools] }] },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'chaos/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
);
