// Reads a TAP 14 stream (tap's --output-file) and returns one short entry per failure: the path of
// subtests down to the failing assertion, and the lines of its diagnostic block that say why
// (found/wanted, the source position, an exit code or signal). run-tests.mjs prints them last, next to
// the "N passed, N failed" line, so whoever sees only the tail of a CI log still sees what failed.

const KEEP = /^(found|wanted|compare|message|exitCode|signal|timeout|expired|fileName|lineNumber|error|code|test):/;

/** @param {string} tap @returns {{ path: string, details: string[] }[]} */
export function tapFailures(tap) {
  const lines = tap.split('\n');
  /** @type {{ indent: number, name: string, failedBelow: boolean }[]} */
  const open = [];
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const indent = line.length - line.trimStart().length;
    const text = line.trim();
    const sub = /^# Subtest: (.*)$/.exec(text);
    if (sub) {
      while (open.length > 0 && open[open.length - 1].indent >= indent) open.pop();
      open.push({ indent, name: sub[1], failedBelow: false });
      continue;
    }
    const res = /^(not ok|ok) \d+ - (.*?)(?: # (time=.*|SKIP.*|TODO.*))?$/.exec(text);
    if (!res) continue;
    const failed = res[1] === 'not ok' && !/^(SKIP|TODO)/.test(res[3] ?? '');
    // A result at the indent of an open subtest closes it; otherwise it is an assertion inside the
    // innermost subtest whose body is indented deeper.
    const top = open[open.length - 1];
    const closes = top !== undefined && top.indent === indent && top.name === res[2];
    if (closes) open.pop();
    if (!failed) continue;
    const parents = open.filter((s) => s.indent < indent);
    if (closes && top.failedBelow) {
      // The subtest failed because something inside it did; that was reported already.
      if (parents.length > 0) parents[parents.length - 1].failedBelow = true;
      continue;
    }
    for (const p of parents) p.failedBelow = true;
    out.push({ path: [...parents.map((p) => p.name), res[2]].join(' > '), details: diagnostics(lines, i + 1) });
  }
  return out;
}

// The YAML block right after a result line, reduced to the keys that explain a failure.
function diagnostics(lines, from) {
  if (lines[from]?.trim() !== '---') return [];
  const base = lines[from].length - lines[from].trimStart().length;
  const kept = [];
  for (let j = from + 1; j < lines.length; j++) {
    const l = lines[j];
    if (l.trim() === '...') break;
    const ind = l.length - l.trimStart().length;
    const t = l.trim();
    if (ind <= base + 4 && KEEP.test(t)) kept.push(t.length > 300 ? `${t.slice(0, 300)}…` : t);
    // A diff's changed lines say more than its header.
    if (ind <= base + 4 && t === 'diff: |') {
      let shown = 0;
      for (let k = j + 1; k < lines.length && /^\s/.test(lines[k]) && lines[k].trim() !== '...'; k++) {
        const d = lines[k].trim();
        if (/^[-+](?![-+])/.test(d) && shown++ < 6) kept.push(`diff ${d.slice(0, 200)}`);
      }
    }
  }
  return kept;
}
