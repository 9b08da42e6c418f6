// An rbr shard run by a node agent, created through the API like an operator would (E2eEnv: a real
// 3-member group, a metadata shard and an agent on 127.0.0.1; one shard of 3 MariaDB nodes and one
// compute node), with an application account that read_only stops. Shared by the process-fence test and
// `npm run bench:fence`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import { AgentClient } from '../../src/agent/client.js';
import { pidAlive } from '../../src/agent/procfs.js';
import { ContinuousWriter } from '../chaos/writer.js';
import { tableChecksums } from '../../src/storage-node/table-checksums.js';
import type { Credentials, Endpoint } from '../../src/storage-node/replication.js';
import { trackPrimary } from '../helpers/primary-tracker.js';
import { ADMIN, E2eEnv, waitFor } from './env.js';

export interface NodeV {
  id: number;
  hostaddr: string;
  port: number;
  health: string;
  repair: string;
  source: number | null;
  fence: { method: string } | null;
  rebuild: { reason: string } | null;
}
export interface ShardV {
  id: number;
  cluster: number;
  primary: number | null;
  nodes: number[];
  task: number | null;
  last: { task: number; outcome: string; primary: number | null; startedAt: number; endedAt: number } | null;
  needsRebuild: number[];
}
interface View {
  shards: ShardV[];
  nodes: NodeV[];
}

export const APP: Credentials = { user: 'fence_app', password: 'fence-App-Pw-1' };
const HOST = '127.0.0.1';

export class AgentShard {
  readonly env: E2eEnv;
  readonly agent: () => AgentClient;
  cluster = 0;
  shard = 0;

  constructor(label: string, sets: string[] = []) {
    this.env = new E2eEnv(label, sets);
    this.agent = () => new AgentClient({ host: HOST, port: this.env.agentPort });
  }

  async start(): Promise<void> {
    const env = this.env;
    await env.start();
    this.cluster = await env.createCluster(1, 3);
    const { shard, primary } = await this.state();
    this.shard = shard.id;
    const admin = await this.adminConnection(primary!.port);
    try {
      await ContinuousWriter.ensureTable(admin);
      await admin.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [APP.user, '%', APP.password]);
      await admin.query('GRANT SELECT, INSERT ON cmgr_chaos.* TO ?@?', [APP.user, '%']);
    } finally {
      await admin.end();
    }
  }

  async stop(): Promise<void> {
    await this.env.stop();
  }

  /** The shard, its nodes and its primary, as the leader sees them. */
  async state(): Promise<{ shard: ShardV; nodes: NodeV[]; primary: NodeV | undefined; node: (id: number | null) => NodeV | undefined }> {
    const v = await this.env.view<View>();
    const shard = v.shards.find((s) => s.cluster === this.cluster)!;
    const node = (id: number | null) => v.nodes.find((n) => n.id === id);
    return { shard, nodes: shard.nodes.map((id) => node(id)!), primary: node(shard.primary), node };
  }

  adminConnection(port: number): Promise<mysql.Connection> {
    return mysql.createConnection({ host: HOST, port, user: ADMIN.user, password: ADMIN.password });
  }

  /** The agent's pid of the server on `port`, or null when it does not run. */
  async pidOf(port: number): Promise<number | null> {
    const i = (await this.agent().listInstances({ port })).instances[0];
    return i?.status === 'running' ? (i.pid ?? null) : null;
  }

  /** The shard's nodes as a writer that asks them for their real role sees them (test/switch primaryFinder). */
  async roleTargets(): Promise<{ host: string; port: number; connect: (extra?: Partial<mysql.ConnectionOptions>) => Promise<Connection> }[]> {
    return (await this.state()).nodes.map((n) => ({
      host: n.hostaddr,
      port: n.port,
      connect: (extra = {}) => mysql.createConnection({ host: n.hostaddr, port: n.port, user: ADMIN.user, password: ADMIN.password, ...extra }),
    }));
  }

  /** Where the application writes: the primary of the leader's view (see trackPrimary). */
  primaryTracker(first: Endpoint): { get: () => Endpoint; stop: () => void } {
    return trackPrimary(first, async () => {
      const p = (await this.state()).primary;
      return p ? { host: p.hostaddr, port: p.port } : undefined;
    });
  }

  /** The lines of a storage node's error log that report a binlog truncated at crash recovery. */
  truncations(port: number): string[] {
    const text = readFileSync(join(this.env.base, 'storage', String(port), 'error.log'), 'utf8');
    return text.split('\n').filter((l) => /truncated binlog/.test(l));
  }

  /** Every node healthy, one primary, the others replicating from it, nothing fenced or running. */
  async settled(ms = 90_000): Promise<{ shard: ShardV; nodes: NodeV[]; primary: NodeV }> {
    return waitFor('a settled shard', async () => {
      const s = await this.state();
      if (!s.primary || s.shard.task !== null) return undefined;
      const ok = s.nodes.every((n) => n.health === 'alive' && n.repair === 'ok' && (n.id === s.primary!.id || n.source === s.primary!.id));
      return ok ? { shard: s.shard, nodes: s.nodes, primary: s.primary } : undefined;
    }, ms);
  }
}

export { tableChecksums };

/** Waits until a replica has applied everything the primary has binlogged (MASTER_GTID_WAIT). */
export async function caughtUp(primary: Connection, replica: Connection, timeoutSec: number): Promise<void> {
  const [[p]] = await primary.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS pos');
  const pos = String(p!.pos);
  const [[w]] = await replica.query<RowDataPacket[]>('SELECT MASTER_GTID_WAIT(?, ?) AS w', [pos, timeoutSec]);
  if (Number(w!.w) !== 0) throw new Error(`a replica did not reach the primary's GTID ${pos} within ${timeoutSec} s`);
}

export { pidAlive, waitFor };
