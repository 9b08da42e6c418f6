// A storage shard made of real MariaDB instances: one primary and N replicas wired with GTID
// replication and semi-sync (semi-sync master on the primary only), replicas read-only.
import { join } from 'node:path';
import { MariaDbInstance, type MariaDbOptions } from './mariadb.js';
import { waitUntil } from './managed-process.js';
import {
  ensureReplicationUser,
  globalStatus,
  makePrimary,
  pointReplicaAt,
  replicaStatus,
  type Credentials,
} from '../storage-node/replication.js';

export interface ShardOptions {
  dir: string;
  /** Total nodes, primary included. */
  nodes: number;
  admin: Credentials;
  repl: Credentials;
  /** server-id of the first node; the others count up. */
  firstServerId?: number;
  instance?: Partial<Omit<MariaDbOptions, 'dir' | 'serverId' | 'admin'>>;
}

export interface LaunchedShard {
  nodes: MariaDbInstance[];
  primary: MariaDbInstance;
  replicas: MariaDbInstance[];
}

/** Starts every node (in parallel) and wires the first as primary. */
export async function startShard(o: ShardOptions): Promise<LaunchedShard> {
  const first = o.firstServerId ?? 1;
  const nodes = Array.from(
    { length: o.nodes },
    (_, i) =>
      new MariaDbInstance({ ...o.instance, dir: join(o.dir, `node${i + 1}`), serverId: first + i, admin: o.admin }),
  );
  try {
    await Promise.all(nodes.map((n) => n.start()));
    const [primary, ...replicas] = nodes as [MariaDbInstance, ...MariaDbInstance[]];
    await wireShard(primary, replicas, o.repl);
    return { nodes, primary, replicas };
  } catch (e) {
    await Promise.all(nodes.map((n) => n.kill9()));
    throw e;
  }
}

/** Makes `primary` the writable semi-sync primary and every replica follow it; waits until they do. */
export async function wireShard(
  primary: MariaDbInstance,
  replicas: MariaDbInstance[],
  repl: Credentials,
  timeoutMs = 30_000,
): Promise<void> {
  for (const n of [primary, ...replicas]) {
    const c = await n.connect();
    try {
      await ensureReplicationUser(c, repl);
    } finally {
      await c.end();
    }
  }
  const pc = await primary.connect();
  try {
    await makePrimary(pc);
    for (const r of replicas) {
      const rc = await r.connect();
      try {
        await pointReplicaAt(rc, { host: primary.host, port: primary.port }, repl);
        await waitUntil(`replica ${r.address} to connect to ${primary.address}`, r.proc, timeoutMs, async () => {
          const st = await replicaStatus(rc);
          if (st?.lastIoError) throw new Error(st.lastIoError);
          return st?.ioRunning === 'Yes' && st.sqlRunning === 'Yes' ? true : undefined;
        });
      } finally {
        await rc.end();
      }
    }
    await waitUntil(`${replicas.length} semi-sync replicas on ${primary.address}`, primary.proc, timeoutMs, async () => {
      const n = Number(await globalStatus(pc, 'Rpl_semi_sync_master_clients'));
      return n >= replicas.length ? true : undefined;
    });
  } finally {
    await pc.end();
  }
}
