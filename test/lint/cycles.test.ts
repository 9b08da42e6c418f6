// The import-cycle check of `npm run lint` (scripts/check-cycles.mjs): a new cycle in src fails it, and
// so does a baseline line whose edge is no longer part of a cycle, so the allowance can only shrink.
// The allowance is empty: src has no import cycle, type-only imports included.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function check(...args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'scripts/check-cycles.mjs'), ...args], { cwd: root, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

t.test('a new cycle between two files of src fails', (t) => {
  const a = join(root, 'src/zz-cycle-probe-a.ts');
  const b = join(root, 'src/zz-cycle-probe-b.ts');
  writeFileSync(a, "import type { B } from './zz-cycle-probe-b.js';\nexport interface A { b?: B }\n");
  writeFileSync(b, "import type { A } from './zz-cycle-probe-a.js';\nexport interface B { a?: A }\n");
  try {
    const r = check();
    t.equal(r.status, 1);
    t.match(r.stderr, 'new import cycle edge src/zz-cycle-probe-a.ts -> src/zz-cycle-probe-b.ts');
    t.match(r.stderr, 'new import cycle edge src/zz-cycle-probe-b.ts -> src/zz-cycle-probe-a.ts');
  } finally {
    rmSync(a, { force: true });
    rmSync(b, { force: true });
  }
  t.end();
});

t.test('a baseline edge that is no longer in a cycle fails until its line is deleted', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cycles-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const doc = join(dir, 'layout.md');
  const stale = '- `src/config/layers.ts -> src/config/load.ts`\n';
  const text = readFileSync(join(root, 'docs/layout.md'), 'utf8');
  writeFileSync(doc, text.replace('<!-- cycle-baseline:end -->', `${stale}<!-- cycle-baseline:end -->`));
  const r = check('--doc', doc);
  t.equal(r.status, 1);
  t.match(r.stderr, `src/config/layers.ts -> src/config/load.ts is no longer in a cycle: delete its line from ${doc}`);
  t.notMatch(r.stderr, 'new import cycle edge', 'the rest of the baseline matches src');
  t.end();
});

t.test('src has no import cycle: the baseline allows none and the check passes', (t) => {
  const text = readFileSync(join(root, 'docs/layout.md'), 'utf8');
  const block = text.slice(text.indexOf('<!-- cycle-baseline:start -->'), text.indexOf('<!-- cycle-baseline:end -->'));
  t.ok(block.length > 0, 'docs/layout.md has the baseline block');
  t.same(block.split('\n').filter((l) => l.startsWith('- ')), [], 'no allowed cycle edge');
  const r = check();
  t.equal(r.status, 0, r.stderr);
  t.end();
});
