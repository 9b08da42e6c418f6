// A topology is checked completely before anything is written: every field against its column, ids
// unique, references resolvable, the tables' unique keys respected. A problem of one row names that
// row (the projection leaves it out and writes the rest); a problem of the topology's shape has none.
import { checkValue, ENTITY_MAPS } from './codec.js';
import { HA_MODES, PSEUDO_SERVER_HOST, PSEUDO_SERVER_ID, type EntityKind, type Topology } from './topology.js';

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

export interface TopologyProblem {
  /** Where, e.g. `computeNodes[1].passwd`. */
  path: string;
  /** Why, without the value (it may be a password). */
  reason: string;
  /** Field problems are found first; references and unique keys are checked on rows whose fields are fine. */
  phase: 'field' | 'ref';
  /** The row at fault; absent for a problem of the topology as a whole. */
  row?: { kind: EntityKind; id: number };
}

const message = (p: TopologyProblem): string => `${p.path} ${p.reason}`;

/** Throws TopologyError naming every problem found (field path and reason): field problems first. */
export function validateTopology(t: Topology): void {
  const problems = topologyProblems(t);
  for (const phase of ['field', 'ref'] as const) {
    const these = problems.filter((p) => p.phase === phase);
    if (these.length > 0) throw new TopologyError(these.map(message));
  }
}

/** Throws TopologyError for problems that belong to no single row; returns the rows' problems. */
export function rowProblems(t: Topology): TopologyProblem[] {
  const problems = topologyProblems(t);
  const whole = problems.filter((p) => p.row === undefined);
  if (whole.length > 0) throw new TopologyError(whole.map(message));
  return problems;
}

/** Every problem of the topology. Ids must be sound (a row is known by its id), so bad ids are not row problems. */
export function topologyProblems(t: Topology): TopologyProblem[] {
  const problems: TopologyProblem[] = [];
  if (t === null || typeof t !== 'object') return [{ path: 'topology', reason: 'must be an object', phase: 'field' }];
  if (t.metaHaMode !== null && !HA_MODES.includes(t.metaHaMode)) {
    problems.push({ path: 'metaHaMode', reason: `must be one of ${HA_MODES.join(', ')} or null`, phase: 'field' });
  }
  /** Rows with a field problem: reference and key checks skip them (their values may not even be strings). */
  const faulty = new Set<string>();
  for (const m of ENTITY_MAPS) {
    const list = t[m.kind] as unknown;
    if (!Array.isArray(list)) {
      problems.push({ path: m.kind, reason: 'must be an array', phase: 'field' });
      continue;
    }
    const known = new Set(m.fields.map((x) => x.field));
    const seen = new Set<number>();
    list.forEach((row: unknown, i) => {
      const path = `${m.kind}[${i}]`;
      if (row === null || typeof row !== 'object') {
        problems.push({ path, reason: 'must be an object', phase: 'field' });
        return;
      }
      const r = row as Record<string, unknown>;
      const idWhy = checkValue(m.fields[0]!.codec, r.id);
      const id = r.id as number;
      if (idWhy !== null) problems.push({ path: `${path}.id`, reason: idWhy, phase: 'field' });
      else if (seen.has(id)) problems.push({ path: `${path}.id`, reason: `${id} is used twice`, phase: 'field' });
      if (idWhy !== null || seen.has(id)) return;
      seen.add(id);
      const bad = (p: string, reason: string): void => {
        problems.push({ path: p, reason, phase: 'field', row: { kind: m.kind, id } });
        faulty.add(`${m.kind}/${id}`);
      };
      for (const k of Object.keys(r)) if (!known.has(k)) bad(`${path}.${k}`, 'is not a field of this entity');
      for (const fm of m.fields.slice(1)) {
        const why = checkValue(fm.codec, r[fm.field]);
        if (why) bad(`${path}.${fm.field}`, why);
      }
    });
  }
  if (problems.some((p) => p.row === undefined)) return problems;

  // References and the tables' unique keys (checked here so a projection never fails half way on them).
  const ref = (kind: EntityKind, i: number, id: number, field: string | null, reason: string): void => {
    problems.push({ path: field === null ? `${kind}[${i}]` : `${kind}[${i}].${field}`, reason, phase: 'ref', row: { kind, id } });
  };
  const ok = <T extends { id: number }>(kind: EntityKind, list: T[]): Array<[T, number]> =>
    list.map((x, i) => [x, i] as [T, number]).filter(([x]) => !faulty.has(`${kind}/${x.id}`));
  const clusters = new Set(t.clusters.map((c) => c.id));
  const shards = new Map(t.shards.map((s) => [s.id, s]));
  const machines = new Set([PSEUDO_SERVER_ID, ...t.machines.map((m) => m.id)]);
  const unique = <T extends { id: number }>(kind: EntityKind, list: T[], keyOf: (x: T) => string | null, what: string): void => {
    const seen = new Map<string, number>();
    for (const [x, i] of ok(kind, list)) {
      const k = keyOf(x);
      if (k === null) continue;
      if (seen.has(k)) ref(kind, i, x.id, null, `has the same ${what} as ${kind}[${seen.get(k)}] (id ${list[seen.get(k)!]!.id})`);
      else seen.set(k, i);
    }
  };

  for (const [m, i] of ok('machines', t.machines)) {
    if (m.id === PSEUDO_SERVER_ID) ref('machines', i, m.id, 'id', `${PSEUDO_SERVER_ID} is the pseudo server row`);
    if (m.hostaddr === PSEUDO_SERVER_HOST) ref('machines', i, m.id, 'hostaddr', 'is the pseudo server name');
  }
  unique('machines', t.machines, (m) => (m.dcId === null ? null : `${ci(m.hostaddr)}\u0000${m.dcId}`), 'hostaddr and dcId');
  unique('clusters', t.clusters, (c) => ci(c.name), 'name');
  for (const [s, i] of ok('shards', t.shards)) {
    if (!clusters.has(s.clusterId)) ref('shards', i, s.id, 'clusterId', `${s.clusterId} is not a cluster of this topology`);
  }
  unique('shards', t.shards, (s) => `${s.clusterId}\u0000${ci(s.name)}`, 'cluster and name');
  for (const [n, i] of ok('storageNodes', t.storageNodes)) {
    const s = shards.get(n.shardId);
    if (!s) ref('storageNodes', i, n.id, 'shardId', `${n.shardId} is not a shard of this topology`);
    else if (s.clusterId !== n.clusterId) ref('storageNodes', i, n.id, 'clusterId', `${n.clusterId} is not the cluster of shard ${n.shardId} (${s.clusterId})`);
    if (!machines.has(n.machineId)) ref('storageNodes', i, n.id, 'machineId', `${n.machineId} is not a machine of this topology`);
  }
  unique('storageNodes', t.storageNodes, (n) => `${ci(n.hostaddr)}\u0000${n.port}\u0000${n.machineId}`, 'hostaddr, port and machineId');
  for (const [n, i] of ok('computeNodes', t.computeNodes)) {
    if (!clusters.has(n.clusterId)) ref('computeNodes', i, n.id, 'clusterId', `${n.clusterId} is not a cluster of this topology`);
    if (!machines.has(n.machineId)) ref('computeNodes', i, n.id, 'machineId', `${n.machineId} is not a machine of this topology`);
  }
  unique('computeNodes', t.computeNodes, (n) => `${n.clusterId}\u0000${ci(n.name)}`, 'cluster and name');
  const sources = t.managers.filter((m) => m.memberState === 'source').length;
  if (sources > 1) problems.push({ path: 'managers', reason: `has ${sources} members in state source; XPanel follows the one leader`, phase: 'ref' });
  return problems;
}
