// The purity rules of eslint.config.js must keep reaching src/actors: a file there that reads the clock
// or imports mysql2 has to fail lint. Each case is a real file written into src/actors (the rules match
// by path, and typed linting wants a file on disk); all are linted in one eslint run (a typed lint builds
// the program once, the slow part) and removed.
import t from 'tap';
import { rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = fileURLToPath(new URL('../../../', import.meta.url));

const probes: Record<string, string> = {
  'zz-purity-probe-clock.ts': 'export const at = (): number => Date.now();\n',
  'zz-purity-probe-date.ts':
    'export const now = (): Date => new Date();\nexport const at = (ms: number): string => new Date(ms).toISOString();\n',
  'zz-purity-probe-mysql.ts': "import mysql from 'mysql2';\nexport const m = mysql;\n",
  'zz-purity-probe-misc.ts': [
    'export const r = (): number => Math.random();',
    'export const e = (): string | undefined => process.env.HOME;',
    'export const s = (): unknown => setTimeout(() => undefined, 1);',
    'queueMicrotask(() => undefined);',
    '',
  ].join('\n'),
};
const ruleIds = new Map<string, string[]>();

t.before(async () => {
  const files = Object.entries(probes).map(([name, code]) => {
    const file = `${root}src/actors/${name}`;
    writeFileSync(file, code);
    return file;
  });
  try {
    for (const result of await new ESLint({ cwd: root }).lintFiles(files)) {
      ruleIds.set(result.filePath.slice(result.filePath.lastIndexOf('/') + 1), result.messages.map((m) => m.ruleId ?? `fatal: ${m.message}`));
    }
  } finally {
    for (const f of files) rmSync(f, { force: true });
  }
});

function ruleIdsFor(name: string): string[] {
  const ids = ruleIds.get(name);
  if (!ids) throw new Error(`${name} was not linted`);
  return ids;
}

t.test('Date.now() in an actor fails lint', (t) => {
  const ids = ruleIdsFor('zz-purity-probe-clock.ts');
  t.same(ids, ['no-restricted-properties']);
  t.end();
});

t.test('new Date() without a time fails, a given time does not', (t) => {
  const ids = ruleIdsFor('zz-purity-probe-date.ts');
  t.same(ids, ['no-restricted-syntax']);
  t.end();
});

t.test('importing mysql2 in an actor fails lint', (t) => {
  const ids = ruleIdsFor('zz-purity-probe-mysql.ts');
  t.same(ids, ['no-restricted-imports']);
  t.end();
});

t.test('timers, randomness and process are refused; queueMicrotask is fine', (t) => {
  const ids = ruleIdsFor('zz-purity-probe-misc.ts');
  t.same(ids, ['no-restricted-properties', 'no-restricted-globals', 'no-restricted-globals']);
  t.end();
});
