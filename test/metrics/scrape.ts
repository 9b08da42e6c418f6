// Reads the Prometheus text exposition format back into samples, for tests that check what a member
// exports (only what our own exposition uses: `name{label="value",...} number`).
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Samples named `name` whose labels include `labels`. */
export function find(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The value of the one sample named `name` with `labels` (undefined when there is none). */
export function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const f = find(samples, name, labels);
  if (f.length > 1) throw new Error(`${f.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return f[0]?.value;
}

export async function scrape(url: string, headers: Record<string, string> = {}): Promise<{ status: number; contentType: string; text: string; samples: Sample[] }> {
  const r = await fetch(`${url}/metrics`, { headers, signal: AbortSignal.timeout(10_000) });
  const text = await r.text();
  return { status: r.status, contentType: r.headers.get('content-type') ?? '', text, samples: r.status === 200 ? parseExposition(text) : [] };
}
