// A topology is checked completely before anything is written: every field against its column, ids
// unique, references resolvable, the tables' unique keys respected. Bad input changes nothing.
import { checkValue, ENTITY_MAPS } from './codec.js';
import { HA_MODES, PSEUDO_SERVER_HOST, PSEUDO_SERVER_ID, type Topology } from './topology.js';

/** How the tables' *_general_ci unique keys compare strings (case, accents, trailing spaces), prefix-limited. */
function ci(s: string, prefix = 512): string {
  return [...s].slice(0, prefix).join('').normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().trimEnd();
}

export class TopologyError extends Error {
  override name = 'TopologyError';
  constructor(readonly problems: string[]) {
    super(`invalid topology: ${problems.slice(0, 10).join('; ')}${problems.length > 10 ? `; … (${problems.length} problems)` : ''}`);
  }
}

/** Throws TopologyError naming every problem found (field path and reason). */
export function validateTopology(t: Topology): void {
  const problems: string[] = [];
  const bad = (path: string, why: string): void => {
    problems.push(`${path} ${why}`);
  };
  if (t === null || typeof t !== 'object') throw new TopologyError(['topology must be an object']);
  if (t.metaHaMode !== null && !HA_MODES.includes(t.metaHaMode)) bad('metaHaMode', `must be one of ${HA_MODES.join(', ')} or null`);

  for (const m of ENTITY_MAPS) {
    const list = t[m.kind] as unknown;
    if (!Array.isArray(list)) {
      bad(m.kind, 'must be an array');
      continue;
    }
    const known = new Set(m.fields.map((x) => x.field));
    const seen = new Set<number>();
    list.forEach((row: unknown, i) => {
      const path = `${m.kind}[${i}]`;
      if (row === null || typeof row !== 'object') {
        bad(path, 'must be an object');
        return;
      }
      const r = row as Record<string, unknown>;
      for (const k of Object.keys(r)) if (!known.has(k)) bad(`${path}.${k}`, 'is not a field of this entity');
      for (const fm of m.fields) {
        const why = checkValue(fm.codec, r[fm.field]);
        if (why) bad(`${path}.${fm.field}`, why);
      }
      const id = r.id as number;
      if (seen.has(id)) bad(`${path}.id`, `${id} is used twice`);
      seen.add(id);
    });
  }
  if (problems.length > 0) throw new TopologyError(problems);

  // References and the tables' unique keys (checked here so a projection never fails half way on them).
  const clusters = new Set(t.clusters.map((c) => c.id));
  const shards = new Map(t.shards.map((s) => [s.id, s]));
  const machines = new Set([PSEUDO_SERVER_ID, ...t.machines.map((m) => m.id)]);
  const unique = (kind: string, keyOf: (x: never) => string | null, list: unknown[], what: string): void => {
    const seen = new Map<string, number>();
    list.forEach((x, i) => {
      const k = keyOf(x as never);
      if (k === null) return;
      if (seen.has(k)) bad(`${kind}[${i}]`, `has the same ${what} as ${kind}[${seen.get(k)}]`);
      else seen.set(k, i);
    });
  };

  t.machines.forEach((m, i) => {
    if (m.id === PSEUDO_SERVER_ID) bad(`machines[${i}].id`, `${PSEUDO_SERVER_ID} is the pseudo server row`);
    if (m.hostaddr === PSEUDO_SERVER_HOST) bad(`machines[${i}].hostaddr`, 'is the pseudo server name');
  });
  unique('machines', (m: Topology['machines'][number]) => (m.dcId === null ? null : `${ci(m.hostaddr)}\u0000${m.dcId}`), t.machines, 'hostaddr and dcId');
  unique('clusters', (c: Topology['clusters'][number]) => ci(c.name), t.clusters, 'name');
  t.shards.forEach((s, i) => {
    if (!clusters.has(s.clusterId)) bad(`shards[${i}].clusterId`, `${s.clusterId} is not a cluster of this topology`);
  });
  unique('shards', (s: Topology['shards'][number]) => `${s.clusterId}\u0000${ci(s.name)}`, t.shards, 'cluster and name');
  t.storageNodes.forEach((n, i) => {
    const s = shards.get(n.shardId);
    if (!s) bad(`storageNodes[${i}].shardId`, `${n.shardId} is not a shard of this topology`);
    else if (s.clusterId !== n.clusterId) bad(`storageNodes[${i}].clusterId`, `${n.clusterId} is not the cluster of shard ${n.shardId} (${s.clusterId})`);
    if (!machines.has(n.machineId)) bad(`storageNodes[${i}].machineId`, `${n.machineId} is not a machine of this topology`);
  });
  unique(
    'storageNodes',
    (n: Topology['storageNodes'][number]) => `${ci(n.hostaddr)}\u0000${n.port}\u0000${n.machineId}`,
    t.storageNodes,
    'hostaddr, port and machineId',
  );
  t.computeNodes.forEach((n, i) => {
    if (!clusters.has(n.clusterId)) bad(`computeNodes[${i}].clusterId`, `${n.clusterId} is not a cluster of this topology`);
    if (!machines.has(n.machineId)) bad(`computeNodes[${i}].machineId`, `${n.machineId} is not a machine of this topology`);
  });
  unique('computeNodes', (n: Topology['computeNodes'][number]) => `${n.clusterId}\u0000${ci(n.name)}`, t.computeNodes, 'cluster and name');
  const sources = t.managers.filter((m) => m.memberState === 'source').length;
  if (sources > 1) bad('managers', `has ${sources} members in state source; XPanel follows the one leader`);

  if (problems.length > 0) throw new TopologyError(problems);
}
