#!/usr/bin/env node
// Runs the compiled test files with tap, saves the raw TAP stream, and ends with the one line CI reads:
// "N passed, N failed". It also fails the run when a server process started by the suite outlived it.
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tapFailures } from './tap-failures.mjs';

const root = new URL('..', import.meta.url).pathname;
process.chdir(root);

const args = process.argv.slice(2);
// --no-build runs what dist/ holds (for a quick rerun); CI always builds, and a type error fails the run.
const noBuild = args.includes('--no-build');
const files = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-') && a !== '--no-build');

if (!noBuild) {
  const build = spawnSync('npx', ['tsc', '-b'], { stdio: 'inherit' });
  if (build.status !== 0) {
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}
// tap runs every file of a directory it is given, whatever --include says; name the test files so the
// CLIs that live beside them (chaos, the Raft simulator) are not run as tests with a random seed.
const targets = files.length > 0 ? files.map(toDist) : testFiles('dist/test');
mkdirSync('.tap', { recursive: true });
const { releaseStalePortBlocks } = await import(new URL('../dist/src/launcher/port-block.js', import.meta.url).href);
releaseStalePortBlocks();
const raw = join('.tap', 'last-run.tap');
const started = Date.now();
const run = spawnSync(
  'npx',
  ['tap', '--reporter=terse', `--output-file=${raw}`, ...flags, ...targets],
  { stdio: 'inherit', env: { ...process.env, CLUSTER_MGR_TEST: '1' } },
);

let passed = 0;
let failed = 0;
let failures = [];
if (existsSync(raw)) {
  const tap = readFileSync(raw, 'utf8');
  failures = tapFailures(tap);
  // tap closes its stream with "# { total: N, pass: N, fail: N, ... }" counting every assertion.
  const m = /^# (\{ total: .*\})\s*$/m.exec(tap);
  if (m) {
    const summary = m[1];
    const num = (k) => Number((new RegExp(`\\b${k}: (\\d+)`).exec(summary) ?? [])[1] ?? 0);
    passed = num('pass');
    failed = num('fail');
  }
}
if (run.status !== 0 && failed === 0) failed = 1;

const leftovers = strayServers();
if (leftovers.length > 0) {
  console.error(`server processes left running after the suite:\n${leftovers.join('\n')}`);
  failed += 1;
}
if (failures.length > 0) {
  console.log(`\nfailed (${failures.length}), from ${raw}:`);
  for (const f of failures.slice(0, 30)) {
    console.log(`  ✗ ${f.path}`);
    for (const d of f.details) console.log(`      ${d}`);
  }
}
const secs = ((Date.now() - started) / 1000).toFixed(1);
console.log(`tests finished in ${secs}s`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);

function testFiles(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.test.js'))
    .map((e) => join(e.parentPath ?? e.path, e.name))
    .sort();
}

function toDist(f) {
  if (f.startsWith('dist/')) return f;
  return join('dist', f.replace(/\.ts$/, '.js'));
}

function strayServers() {
  try {
    const out = execFileSync('pgrep', ['-a', '-f', '/cmgr-'], { encoding: 'utf8' });
    return out
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.includes('pgrep'))
      .filter((l) => /mariadbd|postgres|nats-server|etcd/.test(l));
  } catch {
    return [];
  }
}
