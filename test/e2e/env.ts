// The end-to-end environment of issue 6: a real 3-member manager group (`cluster-mgr start` processes),
// a real 3-node MariaDB metadata shard, and a node agent (`cluster-mgr agent`) on 127.0.0.1. Tests
// talk to it the way an operator does: POST /HttpService/Emit, then get_status until the job ends.
import { join } from 'node:path';
import { readdirSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RowDataPacket } from 'mysql2/promise';
import { claimPortBlock, freePort, makeRunDir, startShard, type LaunchedShard, type PortBlock } from '../../src/launcher/index.js';
import { createSchema } from '../../src/metadata/index.js';
import { AgentClient } from '../../src/agent/client.js';
import { processesUnder } from '../../src/agent/procfs.js';
import { MemberGroup, waitFor, type MemberProc } from '../helpers/member-group.js';
import { AgentChild, killEverythingUnder, removeDir, writeConfig } from '../agent/helpers.js';

export const ADMIN = { user: 'clustmgr', password: 'clustmgr-Pw-1' };
const bin = fileURLToPath(new URL('../../../bin/cluster-mgr.js', import.meta.url));

export interface EmitReply {
  status: string;
  error_code: string | number;
  error_info: string;
  job_id: string;
  attachment: Record<string, unknown> | null;
}

export class E2eEnv {
  readonly dir: string;
  readonly base: string;
  meta!: LaunchedShard;
  group!: MemberGroup;
  agent!: AgentChild;
  agentPort = 0;
  /** Storage and compute port ranges on 127.0.0.1: below the ephemeral range, random per run. */
  storageRange = '';
  private ports: PortBlock | null = null;
  computeRange = '';

  /** `sets`: extra member settings (`key=value`), e.g. the anti-flapping interval for a benchmark. */
  constructor(label: string, private readonly sets: string[] = []) {
    this.dir = makeRunDir(label);
    this.base = join(this.dir, 'instances');
  }

  async start(): Promise<void> {
    this.meta = await startShard({ dir: join(this.dir, 'meta'), nodes: 3, admin: ADMIN, repl: { user: 'repl', password: 'repl-Pw-2' }, instance: { lowerCaseTableNames: true } });
    const c = await this.meta.primary.connect({ database: undefined });
    await createSchema(c);
    await c.end();
    this.agentPort = await freePort();
    const cfg = join(this.dir, 'agent.cnf');
    writeConfig(cfg, { brpc_http_port: this.agentPort, local_ip: '127.0.0.1', instance_base_dir: this.base, log_format: 'json', log_level: 'info' });
    this.agent = new AgentChild(cfg, join(this.dir, 'agent.log'));
    this.agent.start();
    const ac = new AgentClient({ host: '127.0.0.1', port: this.agentPort });
    await waitFor('the agent to answer', () => ac.ping().then(() => true), 20_000);
    // Below the kernel's ephemeral range (32768-) and the playground tests' blocks (30000-32699).
    this.ports = claimPortBlock(20_000, 100);
    const lo = this.ports.lo;
    this.storageRange = `${lo}-${lo + 59}`;
    this.computeRange = `${lo + 60}-${lo + 99}`;
    const seeds = this.meta.nodes.map((n) => `${n.host}:${n.port}`).join(',');
    this.group = new MemberGroup(this.dir, [`meta_group_seeds=${seeds}`, `meta_user=${ADMIN.user}`, `meta_pwd=${ADMIN.password}`, 'log_level=info', ...this.sets]);
    await this.group.init(3);
    this.group.startAll();
    await this.leader(30_000);
  }

  async stop(): Promise<void> {
    await this.group?.stopAll();
    await this.agent?.kill9();
    await killEverythingUnder(this.base);
    await Promise.all(this.meta?.nodes.map((n) => n.kill9()) ?? []);
    // KEEP_RUN_DIR=1 keeps the logs and data of a failed run for a look.
    if (process.env.KEEP_RUN_DIR === undefined) removeDir(this.dir);
    this.ports?.release();
  }

  /** The member that says it leads. */
  async leader(ms = 20_000): Promise<MemberProc> {
    return waitFor(
      'a leader',
      async () => {
        for (const m of this.group.alive()) {
          const r = await this.group.get<{ is_leader: boolean }>(m, '/api/v1/leader');
          if (r?.is_leader === true) return m;
        }
        return undefined;
      },
      ms,
    );
  }

  /** POST /HttpService/Emit to a member (any member: followers relay writes to the leader). */
  async emit(m: MemberProc, jobType: string, paras: Record<string, unknown>, jobId = ''): Promise<EmitReply> {
    const body = JSON.stringify({ version: '1.0', job_id: jobId, job_type: jobType, user_name: 'e2e', timestamp: String(Math.floor(Date.now() / 1000)), paras });
    const r = await this.group.fetch(m, '/HttpService/Emit', { method: 'POST', body, headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(30_000) });
    return (await r.json()) as EmitReply;
  }

  /** Submits an async job on some member and returns its id; throws when it is not accepted. */
  async submit(jobType: string, paras: Record<string, unknown>, m?: MemberProc): Promise<string> {
    const to = m ?? (await this.leader());
    const a = await this.emit(to, jobType, paras);
    if (a.status !== 'accept') throw new Error(`${jobType} not accepted: ${JSON.stringify(a)}`);
    return a.job_id;
  }

  /** Polls get_status (on any live member) until the job ends. */
  async wait(jobId: string, ms = 120_000): Promise<EmitReply> {
    return waitFor(
      `job ${jobId} to end`,
      async () => {
        for (const m of this.group.alive()) {
          const a = await this.emit(m, 'get_status', {}, jobId).catch(() => null);
          // Only a job's own status has an attachment; "no leader yet, retry" answers have none.
          if (a === null || a.attachment === null || a.attachment === undefined) continue;
          if (a.status === 'done' || a.status === 'failed') return a;
          return undefined;
        }
        return undefined;
      },
      ms,
    );
  }

  /** Submits and waits; throws with the job's error when it does not end done. */
  async run(jobType: string, paras: Record<string, unknown>, ms = 120_000): Promise<EmitReply> {
    const id = await this.submit(jobType, paras);
    const a = await this.wait(id, ms);
    if (a.status !== 'done') throw new Error(`${jobType} job ${id} ended ${a.status}: ${a.error_code} ${a.error_info}`);
    return a;
  }

  /** Registers 127.0.0.1 as a storage and a computer machine (this agent) and creates an rbr cluster
   *  of `shards` × `nodes` with one compute node; returns the cluster's id. */
  async createCluster(shards: number, nodes: number): Promise<number> {
    const host = '127.0.0.1';
    const machine = { hostaddr: host, rack_id: '1', total_mem: '4096', total_cpu_cores: '2', nodemgr_port: String(this.agentPort) };
    await this.run('create_machine', { ...machine, machine_type: 'storage', datadir: '/d', logdir: '/l', wal_log_dir: '/w', port_range: this.storageRange });
    await this.run('create_machine', { ...machine, machine_type: 'computer', comp_datadir: '/c', port_range: this.computeRange });
    const created = await this.run('create_cluster', {
      ha_mode: 'rbr', shards: String(shards), nodes: String(nodes), comps: '1', max_storage_size: '20', max_connections: '6', cpu_cores: '2',
      innodb_size: '16', dbcfg: '0', storage_iplists: [host], computer_iplists: [host],
    });
    return Number(created.attachment?.cluster_id);
  }

  async view<T>(): Promise<T> {
    const m = await this.leader();
    const v = await this.group.get<T>(m, '/api/v1/view');
    if (v === null) throw new Error('no view');
    return v;
  }

  async metaRows<T extends RowDataPacket>(sql: string, params: unknown[] = []): Promise<T[]> {
    const c = await this.meta.primary.connect({ database: 'kunlun_metadata_db' });
    try {
      const [rows] = await c.query<T[]>(sql, params);
      return rows;
    } finally {
      await c.end();
    }
  }

  /** Processes still running under the agent's instance directory. */
  leftoverProcesses(): number[] {
    return processesUnder(this.base);
  }

  /** Instance directories left under the agent's base directory. */
  leftoverDirs(): string[] {
    if (!existsSync(this.base)) return [];
    const out: string[] = [];
    for (const kind of readdirSync(this.base, { withFileTypes: true })) {
      if (!kind.isDirectory()) continue;
      for (const d of readdirSync(join(this.base, kind.name))) out.push(join(kind.name, d));
    }
    return out;
  }

  /** The events of one aggregate in a stopped member's Raft log (`cluster-mgr replay --data-dir`). */
  replay(m: MemberProc, agg: string): { type: string }[] {
    const r = spawnSync(process.execPath, [bin, 'replay', '--data-dir', m.dataDir, '--agg', agg, '--json'], { encoding: 'utf8' });
    if (r.status !== 0 && r.stdout.trim() === '') throw new Error(`replay failed: ${r.stderr}`);
    return r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { type?: string })
      .filter((e): e is { type: string } => typeof e.type === 'string');
  }
}

export { waitFor };
