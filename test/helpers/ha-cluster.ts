// A real HA test bed: a one-node MariaDB metadata shard holding an rbr cluster "made by other tools"
// (cluster 7, shard 11, storage nodes 21 primary, 22 and 23 replicas, all real MariaDB with GTID
// replication and semi-sync), and a 3-member cluster_mgr group (real processes) that adopts it and
// keeps it available. Optionally the manager reaches some storage nodes through a FaultProxy
// (storage_connect_map) while the replicas replicate directly: a fault there cuts only the manager.
import { rmSync } from 'node:fs';
import type { RowDataPacket } from 'mysql2/promise';
import { FaultProxy } from '../chaos/fault-proxy.js';
import { ContinuousWriter } from '../chaos/writer.js';
import { makeRunDir, startShard, type LaunchedShard, type MariaDbInstance } from '../../src/launcher/index.js';
import { createSchema } from '../../src/metadata/index.js';
import type { Endpoint } from '../../src/storage-node/replication.js';
import { MemberGroup, waitFor, type MemberProc } from './member-group.js';
import { trackPrimary } from './primary-tracker.js';

export const HA_ADMIN = { user: 'clustmgr', password: 'clustmgr_pwd' };
export const HA_REPL = { user: 'repl', password: 'repl_pwd' };
/** An application account: no SUPER / READ_ONLY ADMIN, so read_only really stops its writes. */
export const HA_APP = { user: 'app', password: 'app_pwd' };
export const CLUSTER_ID = 7;
export const SHARD_ID = 11;
export const NODE_IDS = [21, 22, 23] as const;

export interface HaNodeView {
  id: number;
  shard: number;
  hostaddr: string;
  port: number;
  memberState: string;
  access: string;
  health: string;
  repair: string;
  source: number | null;
  rebuild: { reason: string } | null;
  fence: { method: string; task: number | null } | null;
  evidence: { summary: string; facts: Record<string, unknown> } | null;
}
export interface HaShardView {
  id: number;
  primary: number | null;
  primaryTerm: number;
  ha: string;
  task: { task: number; kind: string; steps: number; lastStep: { step: string } | null; candidate: number | null; term: number } | null;
  last: { task: number; outcome: string; primary: number | null; code: number; reason: string; startedAt: number; endedAt: number } | null;
  needsRebuild: number[];
}
export interface HaView {
  shards: HaShardView[];
  nodes: HaNodeView[];
  /** Jobs with their recorded steps (job.step_* events). */
  jobs: { id: number; steps: { step: string }[] }[];
}
export interface HaMemberInfo {
  member: string;
  role: string;
  term: number;
  applied: number;
}

export interface HaClusterOptions {
  label: string;
  /** Indexes (0..2) of storage nodes the manager reaches through a FaultProxy. */
  proxied?: number[];
  /** Extra `--set key=value` for every member (e.g. probe_interval_ms=250). */
  sets?: string[];
  members?: number;
}

export class HaCluster {
  readonly dir: string;
  meta!: LaunchedShard;
  shard!: LaunchedShard;
  group!: MemberGroup;
  /** Proxy by storage node index, for the proxied ones. */
  readonly proxies = new Map<number, FaultProxy>();
  private cached: { at: number; view: HaView } | null = null;

  constructor(readonly o: HaClusterOptions) {
    this.dir = makeRunDir(o.label);
  }

  /** Starts the servers, writes the topology, starts the members and waits until they adopted it. */
  async start(): Promise<void> {
    const [meta, shard] = await Promise.all([
      startShard({ dir: `${this.dir}/meta`, nodes: 1, admin: HA_ADMIN, repl: HA_REPL, firstServerId: 100, instance: { lowerCaseTableNames: true } }),
      startShard({ dir: `${this.dir}/storage`, nodes: 3, admin: HA_ADMIN, repl: HA_REPL, firstServerId: 1 }),
    ]);
    this.meta = meta;
    this.shard = shard;
    const mc = await meta.primary.connect({ database: undefined });
    // A one-node metadata shard has nobody to acknowledge its commits.
    await mc.query('SET GLOBAL rpl_semi_sync_master_enabled = OFF');
    await createSchema(mc);
    await mc.query('USE kunlun_metadata_db');
    const now = new Date();
    const host = shard.primary.host;
    const ports = shard.nodes.map((n) => n.port);
    await mc.query(
      "INSERT INTO server_nodes (hostaddr, rack_id, datadir, logdir, wal_log_dir, total_mem, total_cpu_cores, svc_since, machine_type, port_range, used_port) VALUES (?, '1', '/d', '/l', '/w', 4096, 8, ?, 'storage', '1024-65535', ?)",
      [host, now, ports.join(',')],
    );
    await mc.query(
      "INSERT INTO db_clusters (id, name, nick_name, owner, ddl_log_tblname, business, ha_mode, when_created, memo) VALUES (?, 'cluster_ha_test', 'ha', 'abc', 'ddl_ops_log_cluster_ha_test', 'kunlun', 'rbr', ?, NULL)",
      [CLUSTER_ID, now],
    );
    await mc.query("INSERT INTO shards (id, name, when_created, num_nodes, db_cluster_id, sync_num) VALUES (?, 'shard_1', ?, 3, ?, 1)", [SHARD_ID, now, CLUSTER_ID]);
    for (let i = 0; i < 3; i++) {
      await mc.query(
        "INSERT INTO shard_nodes (id, hostaddr, port, user_name, passwd, shard_id, db_cluster_id, svr_node_id, member_state, status, when_created, master_priority) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, 'active', ?, 0)",
        [NODE_IDS[i], host, ports[i], HA_ADMIN.user, HA_ADMIN.password, SHARD_ID, CLUSTER_ID, i === 0 ? 'source' : 'replica', now],
      );
    }
    await mc.end();
    const pc = await shard.primary.connect();
    await ContinuousWriter.ensureTable(pc);
    await pc.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [HA_APP.user, '%', HA_APP.password]);
    await pc.query('GRANT SELECT, INSERT ON cmgr_chaos.* TO ?@?', [HA_APP.user, '%']);
    await pc.end();

    const map: string[] = [];
    for (const i of this.o.proxied ?? []) {
      const n = shard.nodes[i]!;
      const p = await FaultProxy.start({ target: { host: n.host, port: n.port } });
      this.proxies.set(i, p);
      map.push(`${n.host}:${n.port}=${p.host}:${p.port}`);
    }
    this.group = new MemberGroup(this.dir, [
      'nats_url=',
      `meta_group_seeds=${meta.primary.host}:${meta.primary.port}`,
      `meta_user=${HA_ADMIN.user}`,
      `meta_pwd=${HA_ADMIN.password}`,
      `storage_repl_user=${HA_REPL.user}`,
      `storage_repl_pwd=${HA_REPL.password}`,
      ...(map.length > 0 ? [`storage_connect_map=${map.join(',')}`] : []),
      ...(this.o.sets ?? []),
    ]);
    await this.group.init(this.o.members ?? 3);
    this.group.startAll();
    await waitFor(
      'the members to adopt the rbr shard and see every node alive',
      async () => {
        const v = await this.view(0);
        const s = v?.shards.find((x) => x.id === SHARD_ID);
        const alive = v?.nodes.filter((n) => n.shard === SHARD_ID && n.health === 'alive').length ?? 0;
        return s?.primary === NODE_IDS[0] && alive === 3 ? true : undefined;
      },
      60_000,
    );
  }

  /** The node instance with this metadata id. */
  instance(id: number): MariaDbInstance {
    const i = NODE_IDS.indexOf(id as (typeof NODE_IDS)[number]);
    if (i < 0) throw new Error(`no storage node ${id}`);
    return this.shard.nodes[i]!;
  }

  async leader(): Promise<{ m: MemberProc; info: HaMemberInfo } | undefined> {
    for (const m of this.group.alive()) {
      const info = await this.group.get<HaMemberInfo>(m, '/api/v1/member');
      if (info?.role === 'leader') return { m, info };
    }
    return undefined;
  }

  /** The leader's view (any member's when no leader answers); cached for `maxAgeMs`. */
  async view(maxAgeMs = 0): Promise<HaView | undefined> {
    if (this.cached && Date.now() - this.cached.at <= maxAgeMs) return this.cached.view;
    const l = await this.leader();
    const from = l ? [l.m] : this.group.alive();
    for (const m of from) {
      const v = await this.group.get<HaView>(m, '/api/v1/view');
      if (v) {
        this.cached = { at: Date.now(), view: v };
        return v;
      }
    }
    return undefined;
  }

  async shardView(): Promise<HaShardView | undefined> {
    return (await this.view())?.shards.find((s) => s.id === SHARD_ID);
  }

  async node(id: number): Promise<HaNodeView | undefined> {
    return (await this.view())?.nodes.find((n) => n.id === id);
  }

  /** Where an application should write now, as the manager's world says (see trackPrimary). */
  primaryTracker(everyMs = 100): { get: () => Endpoint; stop: () => void } {
    return trackPrimary({ host: this.shard.primary.host, port: this.shard.primary.port }, async () => {
      const v = await this.view();
      const s = v?.shards.find((x) => x.id === SHARD_ID);
      const p = s?.primary != null ? v!.nodes.find((n) => n.id === s.primary) : undefined;
      return p ? { host: p.hostaddr, port: p.port } : undefined;
    }, everyMs);
  }

  /** A query on the metadata shard (kunlun_metadata_db). */
  async q<T extends RowDataPacket>(sql: string, params: unknown[] = []): Promise<T[]> {
    const c = await this.meta.primary.connect({ database: 'kunlun_metadata_db' });
    try {
      const [rows] = await c.query<T[]>(sql, params);
      return rows;
    } finally {
      await c.end();
    }
  }

  /** Stops the members, proxies and servers and removes the run directory. */
  async stop(): Promise<void> {
    await this.group?.stopAll();
    for (const p of this.proxies.values()) await p.close().catch(() => undefined);
    const all = [...(this.meta?.nodes ?? []), ...(this.shard?.nodes ?? [])];
    await Promise.all(all.map(async (n) => {
      n.resume();
      await n.kill9();
    }));
    // HA_KEEP_RUN_DIR=1 keeps the servers' and members' logs for a post-mortem.
    if (process.env.HA_KEEP_RUN_DIR) console.error(`# run dir kept: ${this.dir}`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

export { waitFor };
