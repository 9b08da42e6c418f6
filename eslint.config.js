// Lint runs as part of `npm test`; type-aware rules catch unhandled promises, which matter in a
// control plane where a forgotten await can mean an effect that runs after leadership was lost.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The deterministic core: every member applies the same log to these and must reach the same state, so
// they read no clock, no randomness, no environment and do no I/O; time and seeds come in as arguments.
// test/lint/purity.test.ts checks that these rules still reach src/actors.
export const PURE_FILES = [
  'src/actors/**/*.ts',
  'src/events/{canonical,catalog,codec,envelope,hashchain,index,json-limits,redact,schema,validate,vocab}.ts',
  'src/shard-ha/decide/**/*.ts',
  'src/raft/core/**/*.ts',
  'src/storage-node/{gtid,node-state}.ts',
];
const impure = (what) => `not in the deterministic core (${what}); pass it in from the caller`;
const IMPURE_MODULES = [
  ...['fs', 'fs/*', 'net', 'child_process', 'timers', 'timers/*', 'http', 'https', 'dgram', 'dns', 'os', 'worker_threads']
    .flatMap((m) => [m, `node:${m}`]),
  'mysql2', 'mysql2/*', 'pg', 'nats', 'fastify', 'fastify/*', '@fastify/*', 'pino', 'pino-*', 'uuid',
];
// The modules of src that do I/O or hold the manager's running state: the core imports none of them, so
// an impure import cannot come in by way of another module.
const IMPURE_SRC = [
  '(^|/)(agent|audit|chaos|cli|compute|http|jobs|launcher|member|metrics|mirror|playground|projection|reconcile|xa-resolver)/',
  // shard HA's leader side; its pure decisions (shard-ha/decide) are part of the core
  '(^|/)shard-ha/(?!decide/)',
  '(^|/)raft/(node|storage|transport)/',
  '(^|/)storage-node/(flavor|mariadb-flavor|probe|replication|storage-node|xa)\\.js$',
  '(^|/)metadata/(append|commit-log|connect|index|log-tables|read|schema|session|write-topology)\\.js$',
  '(^|/)log/logger\\.js$',
].join('|');
const purity = {
  files: PURE_FILES,
  rules: {
    'no-restricted-globals': ['error',
      ...['process', 'performance', 'setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval',
        'clearImmediate', 'fetch', 'crypto'].map((name) => ({ name, message: impure(`${name}: a clock, the environment or I/O`) })),
    ],
    'no-restricted-properties': ['error',
      { object: 'Date', property: 'now', message: impure('the clock') },
      { object: 'Math', property: 'random', message: impure('randomness') },
      ...['randomUUID', 'randomBytes', 'randomInt', 'getRandomValues'].map((property) =>
        ({ object: 'crypto', property, message: impure('randomness') })),
      ...['setTimeout', 'setInterval', 'setImmediate', 'process', 'performance'].map((property) =>
        ({ object: 'globalThis', property, message: impure('a clock, the environment or timers') })),
    ],
    'no-restricted-syntax': ['error',
      { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: impure('the clock: new Date() without a time') },
      { selector: "CallExpression[callee.name='Date']", message: impure('the clock: Date()') },
    ],
    'no-restricted-imports': ['error', {
      paths: ['crypto', 'node:crypto'].map((name) => ({
        name, importNames: ['randomUUID', 'randomBytes', 'randomInt', 'getRandomValues', 'webcrypto'], message: impure('randomness'),
      })),
      patterns: [
        { group: IMPURE_MODULES, message: impure('I/O, timers or a logger') },
        { regex: IMPURE_SRC, message: impure('a module of src that does I/O') },
      ],
    }],
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tap/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      'no-console': 'off',
    },
  },
  {
    // tap's t.test() returns a promise that tap itself tracks; awaiting every one would only add noise.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
  purity,
);
