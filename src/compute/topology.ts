// The shard topology a compute node routes by. kunlun-server keeps it in its catalog (pg_cluster_meta,
// pg_shard, pg_shard_node); on PostgreSQL, which stands in for it, the same facts live in schema
// `kunlun`. No passwords: the node reaches the shards with the account named in user_name, whose
// password it is given by other means (kunlun-server reads it from the metadata shard).
//
// The manager writes it in one transaction, compare first (a rerun with nothing new changes nothing),
// fenced by the leader's term: the version row holds the term and applied index of the last write,
// and a writer with an older term (a deposed leader) or an older index of the same term is refused.
import pg from 'pg';
import type { World } from '../actors/index.js';
import type { HaMode } from '../events/vocab.js';

export interface CompMeta {
  compNodeId: number;
  compNodeName: string;
  clusterId: number;
  clusterName: string;
  haMode: HaMode;
}

export interface CompShard {
  id: number;
  name: string;
  /** The shard's primary (kunlun-server's pg_shard.master_node_id); 0 while it has none. */
  masterNodeId: number;
  numNodes: number;
}

export interface CompShardNode {
  id: number;
  shardId: number;
  hostaddr: string;
  port: number;
  userName: string;
  isPrimary: boolean;
}

export interface CompTopology {
  meta: CompMeta;
  shards: CompShard[];
  nodes: CompShardNode[];
}

/** What compute node `compId` must hold, from the world; null when the comp or its cluster is gone. */
export function compTopology(world: World, compId: number, storageUser: string): CompTopology | null {
  const comp = world.comp(compId);
  const cluster = comp === null ? null : world.cluster(comp.cluster);
  if (comp === null || cluster === null) return null;
  const shards: CompShard[] = [];
  const nodes: CompShardNode[] = [];
  for (const sid of world.shardsOf(cluster.id)) {
    const s = world.shard(sid);
    if (s === null) continue;
    shards.push({ id: s.id, name: s.name, masterNodeId: s.primary ?? 0, numNodes: s.nodes.length });
    for (const nid of s.nodes) {
      const n = world.node(nid);
      if (n === null) continue;
      nodes.push({ id: n.id, shardId: s.id, hostaddr: n.hostaddr, port: n.port, userName: storageUser, isPrimary: s.primary === n.id });
    }
  }
  return {
    meta: { compNodeId: comp.id, compNodeName: comp.name, clusterId: cluster.id, clusterName: cluster.name, haMode: cluster.haMode },
    shards,
    nodes,
  };
}

const SCHEMA_SQL = [
  'CREATE SCHEMA IF NOT EXISTS kunlun',
  `CREATE TABLE IF NOT EXISTS kunlun.cluster_meta (
     comp_node_id integer PRIMARY KEY, comp_node_name text NOT NULL,
     cluster_id integer NOT NULL, cluster_name text NOT NULL, ha_mode text NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS kunlun.shards (
     id integer PRIMARY KEY, name text NOT NULL, master_node_id integer NOT NULL DEFAULT 0, num_nodes integer NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS kunlun.shard_nodes (
     id integer PRIMARY KEY, shard_id integer NOT NULL REFERENCES kunlun.shards(id) ON DELETE CASCADE,
     hostaddr text NOT NULL, port integer NOT NULL, user_name text NOT NULL, is_primary boolean NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS kunlun.topology_version (
     one boolean PRIMARY KEY DEFAULT true CHECK (one), term bigint NOT NULL, applied bigint NOT NULL,
     updated_at timestamptz NOT NULL)`,
];

/** Serializes writers of one node's topology (the job and the reconciler may meet on a new comp). */
const LOCK_KEY = 0x6b756e6c; // "kunl"

export async function readCompTopology(c: pg.ClientBase): Promise<CompTopology | null> {
  const exists = await c.query("SELECT 1 FROM pg_namespace WHERE nspname = 'kunlun'");
  if (exists.rowCount === 0) return null;
  const meta = await c.query<{ comp_node_id: number; comp_node_name: string; cluster_id: number; cluster_name: string; ha_mode: HaMode }>(
    'SELECT comp_node_id, comp_node_name, cluster_id, cluster_name, ha_mode FROM kunlun.cluster_meta',
  );
  const shards = await c.query<{ id: number; name: string; master_node_id: number; num_nodes: number }>(
    'SELECT id, name, master_node_id, num_nodes FROM kunlun.shards ORDER BY id',
  );
  const nodes = await c.query<{ id: number; shard_id: number; hostaddr: string; port: number; user_name: string; is_primary: boolean }>(
    'SELECT id, shard_id, hostaddr, port, user_name, is_primary FROM kunlun.shard_nodes ORDER BY id',
  );
  const m = meta.rows[0];
  return {
    meta: m === undefined
      ? { compNodeId: 0, compNodeName: '', clusterId: 0, clusterName: '', haMode: 'no_rep' }
      : { compNodeId: m.comp_node_id, compNodeName: m.comp_node_name, clusterId: m.cluster_id, clusterName: m.cluster_name, haMode: m.ha_mode },
    shards: shards.rows.map((r) => ({ id: r.id, name: r.name, masterNodeId: r.master_node_id, numNodes: r.num_nodes })),
    nodes: nodes.rows.map((r) => ({ id: r.id, shardId: r.shard_id, hostaddr: r.hostaddr, port: r.port, userName: r.user_name, isPrimary: r.is_primary })),
  };
}

export interface SyncFence {
  term: number;
  /** The world's applied index the topology was derived at. */
  applied: number;
}

export interface SyncResult {
  /** `stale`: a newer leader (or a newer write of this one) got there first; nothing was written. */
  status: 'unchanged' | 'applied' | 'stale';
  inserted: number;
  updated: number;
  deleted: number;
  /** The version row's term and index when stale. */
  found?: SyncFence;
}

const same = <T extends object>(a: T, b: T): boolean => (Object.keys(a) as Array<keyof T>).every((k) => a[k] === b[k]);

/** Brings the node's `kunlun` schema to `want` in one transaction; see the header for the fence. */
export async function syncCompTopology(c: pg.ClientBase, want: CompTopology, fence: SyncFence): Promise<SyncResult> {
  const res: SyncResult = { status: 'unchanged', inserted: 0, updated: 0, deleted: 0 };
  await c.query('BEGIN');
  try {
    await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    for (const sql of SCHEMA_SQL) await c.query(sql);
    const v = await c.query<{ term: string; applied: string }>('SELECT term, applied FROM kunlun.topology_version FOR UPDATE');
    const found = v.rows[0] === undefined ? null : { term: Number(v.rows[0].term), applied: Number(v.rows[0].applied) };
    if (found !== null && (found.term > fence.term || (found.term === fence.term && found.applied > fence.applied))) {
      await c.query('ROLLBACK');
      return { ...res, status: 'stale', found };
    }
    const cur = (await readCompTopology(c))!;
    await writeDiff(c, cur, want, res);
    if (res.inserted + res.updated + res.deleted > 0) {
      res.status = 'applied';
      await c.query(
        `INSERT INTO kunlun.topology_version (one, term, applied, updated_at) VALUES (true, $1, $2, now())
         ON CONFLICT (one) DO UPDATE SET term = EXCLUDED.term, applied = EXCLUDED.applied, updated_at = EXCLUDED.updated_at`,
        [fence.term, fence.applied],
      );
    }
    await c.query('COMMIT');
    return res;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw new Error(`writing the shard topology of compute node ${want.meta.compNodeId} failed: ${(e as Error).message}`, { cause: e });
  }
}

async function writeDiff(c: pg.ClientBase, cur: CompTopology, want: CompTopology, res: SyncResult): Promise<void> {
  const hadMeta = cur.meta.compNodeId !== 0;
  if (!hadMeta || !same(cur.meta, want.meta)) {
    if (hadMeta) await c.query('DELETE FROM kunlun.cluster_meta');
    const m = want.meta;
    await c.query(
      'INSERT INTO kunlun.cluster_meta (comp_node_id, comp_node_name, cluster_id, cluster_name, ha_mode) VALUES ($1, $2, $3, $4, $5)',
      [m.compNodeId, m.compNodeName, m.clusterId, m.clusterName, m.haMode],
    );
    if (hadMeta) res.updated++;
    else res.inserted++;
  }
  // Nodes first out, shards last out; shards first in, nodes last in (shard_nodes references shards).
  const wantNodes = new Map(want.nodes.map((n) => [n.id, n]));
  const wantShards = new Map(want.shards.map((s) => [s.id, s]));
  for (const n of cur.nodes) {
    if (!wantNodes.has(n.id)) {
      await c.query('DELETE FROM kunlun.shard_nodes WHERE id = $1', [n.id]);
      res.deleted++;
    }
  }
  for (const s of cur.shards) {
    if (!wantShards.has(s.id)) {
      await c.query('DELETE FROM kunlun.shards WHERE id = $1', [s.id]);
      res.deleted++;
    }
  }
  const curShards = new Map(cur.shards.map((s) => [s.id, s]));
  for (const s of want.shards) {
    const old = curShards.get(s.id);
    if (old !== undefined && same(old, s)) continue;
    await c.query(
      `INSERT INTO kunlun.shards (id, name, master_node_id, num_nodes) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, master_node_id = EXCLUDED.master_node_id, num_nodes = EXCLUDED.num_nodes`,
      [s.id, s.name, s.masterNodeId, s.numNodes],
    );
    if (old === undefined) res.inserted++;
    else res.updated++;
  }
  const curNodes = new Map(cur.nodes.map((n) => [n.id, n]));
  for (const n of want.nodes) {
    const old = curNodes.get(n.id);
    if (old !== undefined && same(old, n)) continue;
    await c.query(
      `INSERT INTO kunlun.shard_nodes (id, shard_id, hostaddr, port, user_name, is_primary) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (id) DO UPDATE SET shard_id = EXCLUDED.shard_id, hostaddr = EXCLUDED.hostaddr, port = EXCLUDED.port,
         user_name = EXCLUDED.user_name, is_primary = EXCLUDED.is_primary`,
      [n.id, n.shardId, n.hostaddr, n.port, n.userName, n.isPrimary],
    );
    if (old === undefined) res.inserted++;
    else res.updated++;
  }
}
