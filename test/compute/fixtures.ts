// A world with a cluster whose one compute node is a real PostgreSQL on loopback, for the compute tests.
import { World } from '../../src/actors/world.js';
import { Leader, ev0 } from '../actors/helpers.js';

export interface Scene {
  leader: Leader;
  world: World;
  cluster: number;
  shards: number[];
  comp: number;
}

/** Two shards of three nodes (first node primary), one comp at host:port, credentials = the comp's superuser. */
export function compScene(host: string, port: number, admin: { user: string; password: string }): Scene {
  const world = new World();
  const leader = new Leader(world);
  leader.machines(3);
  leader.must({ kind: 'machine.create', hostaddr: host, role: 'computer', rackId: '1', compDatadir: '/c', totalMemMB: 1024, totalCpuCores: 4, portRange: { lo: 1024, hi: 65535 } });
  const created = leader.must({
    kind: 'cluster.create',
    haMode: 'rbr',
    maxStorageSizeGB: 20,
    maxConnections: 6,
    cpuCores: 8,
    innodbSizeMB: 128,
    compUser: admin.user,
    compPassword: admin.password,
  });
  const cluster = Number(created.committed[0]!.event.agg.slice('cluster/'.length));
  const shards = [addShard(leader, cluster, true), addShard(leader, cluster, true)];
  const c = leader.must({ kind: 'comp.add', cluster, hostaddr: host, port });
  const comp = Number(c.committed[0]!.event.agg.slice('comp/'.length));
  return { leader, world, cluster, shards, comp };
}

/** A shard of three nodes on the storage machines; with `primary`, the first is its writable primary. */
export function addShard(leader: Leader, cluster: number, primary: boolean): number {
  const port = 57000 + 4 * leader.world.next.shard;
  const r = leader.must({ kind: 'shard.add', cluster, nodes: [1, 2, 3].map((i) => ({ hostaddr: `10.0.0.${i}`, port })) });
  const shard = Number(r.committed[0]!.event.agg.slice('shard/'.length));
  const nodes = leader.world.nodesOf(shard);
  for (const n of nodes) {
    leader.must({ kind: 'node.set_status', node: n, status: 'active' });
    leader.must({ kind: 'node.set_health', node: n, health: 'alive', evidence: ev0 });
  }
  if (primary) setPrimary(leader, shard, nodes[0]!);
  return shard;
}

export function setPrimary(leader: Leader, shard: number, node: number): void {
  leader.must({ kind: 'shard.set_primary', shard, node, term: 1 });
  leader.must({ kind: 'node.set_access', node, access: 'writable' });
}
