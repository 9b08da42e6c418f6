// The purity rules of eslint.config.js must keep reaching src/actors: a file there that reads the clock
// or imports mysql2 has to fail lint. Each case writes a real file into src/actors (the rules match by
// path, and typed linting wants a file on disk), lints it with eslint's Node API and removes it.
import t from 'tap';
import { rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = fileURLToPath(new URL('../../../', import.meta.url));

async function ruleIdsFor(name: string, code: string): Promise<string[]> {
  const file = `${root}src/actors/${name}`;
  writeFileSync(file, code);
  try {
    const [result] = await new ESLint({ cwd: root }).lintFiles([file]);
    return (result?.messages ?? []).map((m) => m.ruleId ?? `fatal: ${m.message}`);
  } finally {
    rmSync(file, { force: true });
  }
}

t.test('Date.now() in an actor fails lint', async (t) => {
  const ids = await ruleIdsFor('zz-purity-probe-clock.ts', 'export const at = (): number => Date.now();\n');
  t.same(ids, ['no-restricted-properties']);
});

t.test('new Date() without a time fails, a given time does not', async (t) => {
  const ids = await ruleIdsFor(
    'zz-purity-probe-date.ts',
    'export const now = (): Date => new Date();\nexport const at = (ms: number): string => new Date(ms).toISOString();\n',
  );
  t.same(ids, ['no-restricted-syntax']);
});

t.test('importing mysql2 in an actor fails lint', async (t) => {
  const ids = await ruleIdsFor('zz-purity-probe-mysql.ts', "import mysql from 'mysql2';\nexport const m = mysql;\n");
  t.same(ids, ['no-restricted-imports']);
});

t.test('timers, randomness and process are refused; queueMicrotask is fine', async (t) => {
  const ids = await ruleIdsFor(
    'zz-purity-probe-misc.ts',
    [
      'export const r = (): number => Math.random();',
      'export const e = (): string | undefined => process.env.HOME;',
      'export const s = (): unknown => setTimeout(() => undefined, 1);',
      'queueMicrotask(() => undefined);',
      '',
    ].join('\n'),
  );
  t.same(ids, ['no-restricted-properties', 'no-restricted-globals', 'no-restricted-globals']);
});
