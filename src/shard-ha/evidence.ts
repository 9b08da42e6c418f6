// Evidence of an HA conclusion as the event catalog takes it (no runtime needed: the step engine and the
// reconcilers all build it).
import type { Evidence } from '../events/catalog.js';

type Scalar = string | number | boolean | null;

/** Evidence within the catalog's limits: summary ≤ 512 characters, scalar facts. */
export function evidence(observer: string, summary: string, facts: Record<string, Scalar | undefined>): Evidence {
  const f: Record<string, Scalar> = {};
  for (const [k, v] of Object.entries(facts)) {
    if (v === undefined) continue;
    f[k] = typeof v === 'string' && v.length > 1000 ? `${v.slice(0, 997)}...` : v;
  }
  return { observer, summary: summary.length > 512 ? `${summary.slice(0, 509)}...` : summary, facts: f };
}

