#!/usr/bin/env node
// The import-cycle check of `npm run lint`. It reads every import in src (type-only imports included:
// a cycle of types still ties the modules into one unit to understand and to test) and finds the
// cycles between files and between the folders of src. No cycle is allowed except those in the
// baseline block of docs/layout.md, which may only shrink and is empty now (src has no cycle): a new
// cycle edge fails, and so does a listed edge that is no longer part of a cycle (delete its line).
// `--update` rewrites the block.
import { readFileSync, writeFileSync } from 'node:fs';
import { cruise } from 'dependency-cruiser';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const root = new URL('..', import.meta.url).pathname;
process.chdir(root);
// --doc FILE reads the baseline from another copy (the check's own test uses it).
const docArg = process.argv.indexOf('--doc');
const DOC = docArg > 0 ? process.argv[docArg + 1] : 'docs/layout.md';
const START = '<!-- cycle-baseline:start -->';
const END = '<!-- cycle-baseline:end -->';

/** The import graph of src: file -> files it imports (only files inside src). */
async function importGraph() {
  const { output } = await cruise(
    ['src'],
    // zz-purity-probe-*: files test/lint/purity.test.ts writes into src/actors for a moment; a
    // concurrent run of this check must not trip over one vanishing while it reads the tree.
    { tsPreCompilationDeps: true, doNotFollow: { path: 'node_modules' }, exclude: { path: '^(?!src/)|zz-purity-probe-' } },
    { extensions: ['.ts', '.js'] },
    { tsConfig: extractTSConfig('tsconfig.json') },
  );
  const graph = new Map();
  for (const m of output.modules) {
    if (!m.source.startsWith('src/')) continue;
    const to = m.dependencies.map((d) => d.resolved).filter((r) => r.startsWith('src/') && r.endsWith('.ts'));
    graph.set(m.source, new Set(to));
  }
  return graph;
}

/** Strongly connected components (Tarjan), iterative so a deep chain cannot overflow the stack. */
function components(graph) {
  let next = 0;
  const index = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const comp = new Map();
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work = [[start, [...(graph.get(start) ?? [])], 0]];
    index.set(start, next);
    low.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const [v, succ] = frame;
      if (frame[2] < succ.length) {
        const w = succ[frame[2]++];
        if (!index.has(w)) {
          index.set(w, next);
          low.set(w, next++);
          stack.push(w);
          onStack.add(w);
          work.push([w, [...(graph.get(w) ?? [])], 0]);
        } else if (onStack.has(w)) {
          low.set(v, Math.min(low.get(v), index.get(w)));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1][0];
        low.set(parent, Math.min(low.get(parent), low.get(v)));
      }
      if (low.get(v) === index.get(v)) {
        let w;
        do {
          w = stack.pop();
          onStack.delete(w);
          comp.set(w, v);
        } while (w !== v);
      }
    }
  }
  return comp;
}

/** Edges whose two ends lie in one cycle, as "a -> b" lines, sorted; and the cycles' members. */
function cycleEdges(graph) {
  const comp = components(graph);
  const edges = [];
  const members = new Map();
  for (const [from, tos] of graph) {
    for (const to of tos) {
      if (from !== to && comp.get(from) === comp.get(to)) edges.push(`${from} -> ${to}`);
    }
  }
  for (const [node, c] of comp) members.set(c, [...(members.get(c) ?? []), node]);
  const cycles = [...members.values()].filter((m) => m.length > 1).map((m) => m.sort());
  return { edges: edges.sort(), cycles };
}

/** The folder graph: src/<folder> -> folders it imports (a file directly in src is its own node). */
function folderGraph(graph) {
  const folder = (f) => f.split('/').slice(0, 2).join('/').replace(/\.ts$/, '');
  const out = new Map();
  for (const [from, tos] of graph) {
    const set = out.get(folder(from)) ?? new Set();
    for (const to of tos) if (folder(to) !== folder(from)) set.add(folder(to));
    out.set(folder(from), set);
  }
  return out;
}

function readBaseline() {
  const doc = readFileSync(DOC, 'utf8');
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${DOC}: the markers ${START} and ${END} are missing`);
  const lines = doc.slice(a + START.length, b).split('\n');
  return { doc, a, b, edges: new Set(lines.filter((l) => l.startsWith('- ')).map((l) => l.slice(2).replaceAll('`', '').trim())) };
}

const t0 = performance.now();
const graph = await importGraph();
const files = cycleEdges(graph);
const folders = cycleEdges(folderGraph(graph));
const found = [...files.edges, ...folders.edges];
const baseline = readBaseline();

if (process.argv.includes('--update')) {
  const block = [
    '',
    `Files (${files.edges.length} edges in ${files.cycles.length} cycle(s)):`,
    '',
    ...files.edges.flatMap((e, i, all) => [`- \`${e}\``, ...(i === all.length - 1 ? [''] : [])]),
    `Folders (${folders.edges.length} edges in ${folders.cycles.length} cycle(s)):`,
    '',
    ...folders.edges.map((e) => `- \`${e}\``),
    ...(folders.edges.length > 0 ? [''] : []),
  ].join('\n');
  writeFileSync(DOC, baseline.doc.slice(0, baseline.a + START.length) + block + baseline.doc.slice(baseline.b));
  console.log(`check-cycles: wrote ${found.length} edges to ${DOC}`);
  process.exit(0);
}

const added = found.filter((e) => !baseline.edges.has(e));
const gone = [...baseline.edges].filter((e) => !found.includes(e));
const ms = Math.round(performance.now() - t0);
if (added.length === 0 && gone.length === 0) {
  console.log(`check-cycles: ${graph.size} files, ${found.length} cycle edges, all in the baseline of ${DOC} (${ms} ms)`);
  process.exit(0);
}
for (const e of added) console.error(`check-cycles: new import cycle edge ${e}`);
for (const c of [...files.cycles, ...folders.cycles]) {
  if (added.some((e) => c.includes(e.split(' -> ')[0]))) console.error(`  in the cycle of: ${c.join(', ')}`);
}
for (const e of gone) console.error(`check-cycles: ${e} is no longer in a cycle: delete its line from ${DOC}`);
console.error(added.length > 0 ? 'check-cycles: break the new cycle (import the lower layer only)' : 'check-cycles: the baseline only shrinks');
process.exit(1);
