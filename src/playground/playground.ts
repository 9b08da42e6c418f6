// `cluster-mgr playground`: a whole KunlunBase control plane on this machine, under one directory:
// nats-server with JetStream, a 3-node MariaDB metadata shard, a node agent, a 3-member cluster_mgr
// Raft group; then, through the public API only, the machine is registered and a demo cluster created
// (real MariaDB shards and a PostgreSQL compute node, installed by the agent). It prints what is where
// and stays in the foreground; Ctrl-C or `cluster-mgr playground --down` stops everything.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MariaDbInstance, ManagedProcess, NatsInstance, claimPortBlock, freePort, wireShard, type PortBlock } from '../launcher/index.js';
import { ephemeralPortRange, type PortRange } from '../launcher/ports.js';
import { createSchema } from '../metadata/index.js';
import { COMPUTE_STRIDE, STORAGE_STRIDE } from '../jobs/shard-install.js';
import { processesUnder, SERVER_PROGRAMS } from '../agent/procfs.js';
import { ApiError, emit, findLeader, getJson, type ApiOptions, type EmitAnswer } from '../http/client.js';
import { writeTokensFile } from '../http/api-access.js';
import { chooseBase, clearRange, layout, mustBind, pickPort, type PortLayout } from './ports.js';
import { alive, BIN, PLAYGROUND_HEADER_FILE, PLAYGROUND_TOKEN_FILE, readState, resolveDir, stateFile, writeState, type MemberEntry, type PlaygroundState } from './state.js';
import { NATS_MANAGER_USER, NATS_WATCHER_USER, playgroundSecrets, type PlaygroundSecrets } from './secrets.js';
import { writeSecretFile } from '../config/secret-file.js';

export interface PlaygroundOptions {
  dir: string;
  shards: number;
  nodes: number;
  comps: number;
  /** False: stop after registering the machine (no demo cluster). */
  cluster: boolean;
  /** Keep the data when stopping, for the next start. */
  keep: boolean;
  /** First port of the playground's block (ports.ts); null: the default, clear of the ephemeral range; 0: free ports everywhere (tests). */
  basePort: number | null;
  out?: (line: string) => void;
}

const STREAM = 'KUNLUN_EVENTS';
const COMP_USER = 'abc';
/** Every program that may run under the playground dir: what `--down` sweeps. */
const SWEEP = [...SERVER_PROGRAMS, 'node', 'nats-server'] as const;

interface Minimal {
  clusters: { id: number; name: string; nickName: string; haMode: string; status: string; shards: number[]; comps: number[] }[];
  shards: { id: number; cluster: number; name: string; primary: number | null; nodes: number[] }[];
  nodes: { id: number; shard: number; hostaddr: string; port: number; memberState: string; health: string }[];
  comps: { id: number; cluster: number; name: string; hostaddr: string; port: number; status: string }[];
  machines: { host: string; roles: Record<string, unknown> }[];
  jobs: { id: number | string; jobType: string; status: string; step: { name: string; index: number; total: number } | null; progress: { done: number; total: number } }[];
}

/** A config file: it may name or hold secrets (meta_pwd), so only its owner reads it. */
function cnf(file: string, lines: Record<string, string | number>): void {
  writeSecretFile(file, `# written by cluster-mgr playground\n${Object.entries(lines).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`);
}

/** SIGTERM, then SIGKILL after `ms`, of every playground process still working under `dir`. */
export async function sweep(dir: string, ms = 15_000): Promise<number> {
  const spare = new Set([process.pid, process.ppid]);
  const list = () => processesUnder(dir, SWEEP).filter((p) => !spare.has(p));
  let pids = list();
  const found = pids.length;
  for (const p of pids) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      // gone
    }
  }
  const end = Date.now() + ms;
  while (pids.length > 0 && Date.now() < end) {
    await sleep(100);
    pids = list();
  }
  for (let i = 0; i < 30 && pids.length > 0; i++) {
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await sleep(100);
    pids = list();
  }
  return found;
}

export class Playground {
  readonly dir: string;
  private readonly out: (line: string) => void;
  private readonly t0 = Date.now();
  private nats: NatsInstance | null = null;
  private meta: MariaDbInstance[] = [];
  private agent: ManagedProcess | null = null;
  private members: { entry: MemberEntry; proc: ManagedProcess }[] = [];
  private state!: PlaygroundState;
  private secrets!: PlaygroundSecrets;
  private stopping: Promise<void> | null = null;
  private resumed = false;
  /** Set once no other live playground owns the dir: only then may stop() touch it. */
  private owns = false;
  private clusterJob: string | null = null;
  private ports: PortBlock | null = null;
  /** The block in use (null with --base-port 0, or when resumed). */
  private layout: PortLayout | null = null;
  /** The members' API tokens (api_tokens_file) and the admin token this playground calls with. */
  private tokensFile = '';
  private api: ApiOptions = {};

  constructor(readonly o: PlaygroundOptions) {
    this.dir = o.dir;
    this.out = o.out ?? ((l) => console.log(l));
  }

  private stamp(): string {
    return `[${((Date.now() - this.t0) / 1000).toFixed(1).padStart(5)}s]`;
  }

  say(msg: string): void {
    this.out(`${this.stamp()} ${msg}`);
  }

  private async step<T>(what: string, fn: () => Promise<T>, detail?: (v: T) => string): Promise<T> {
    const t = Date.now();
    this.say(`… ${what}`);
    const v = await fn();
    const extra = detail ? ` — ${detail(v)}` : '';
    this.say(`✓ ${what}${extra} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
    return v;
  }

  /** A token per role for the members; the admin one also as api-token (status and replay find it
   *  there) and as a curl header file, so printed commands work as pasted without carrying it. */
  private writeApiTokens(): void {
    const t = writeTokensFile(join(this.dir, 'api-tokens'));
    this.tokensFile = t.file;
    writeSecretFile(join(this.dir, PLAYGROUND_TOKEN_FILE), `${t.admin}\n`);
    writeSecretFile(join(this.dir, PLAYGROUND_HEADER_FILE), `Authorization: Bearer ${t.admin}\n`);
    this.api = { token: t.admin };
  }

  /** Everything up to the summary. Throws on failure (the caller stops what was started). */
  async start(): Promise<void> {
    const prev = readState(this.dir);
    if (prev && alive(prev.pid) && prev.pid !== process.pid) {
      throw new Error(`a playground is already running in ${this.dir} (pid ${prev.pid}); stop it with: cluster-mgr playground --down`);
    }
    this.owns = true;
    if (prev && prev.keep && prev.phase !== 'starting') {
      this.resumed = true;
      this.say(`resuming the playground kept in ${this.dir}`);
      await sweep(this.dir, 5_000);
    } else if (existsSync(this.dir)) {
      // Leftovers of a run that did not stop cleanly (or was not kept): start afresh.
      const n = await sweep(this.dir, 5_000);
      if (n > 0) this.say(`stopped ${n} leftover process(es) under ${this.dir}`);
      rmSync(this.dir, { recursive: true, force: true });
    }
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    this.say(`playground directory ${this.dir}`);
    this.secrets = playgroundSecrets(this.dir);

    this.writeApiTokens();
    const ports = this.resumed && prev ? await this.resumedPorts(prev) : await this.choosePorts();
    const peers = ports.members.map((m) => `127.0.0.1:${m.raft}:0:${m.http}`).join(',') + ',';
    const metaSeeds = ports.meta.map((p) => `127.0.0.1:${p}`).join(',');
    this.state = {
      version: 1,
      pid: process.pid,
      dir: this.dir,
      phase: 'starting',
      keep: this.o.keep,
      startedAt: new Date(this.t0).toISOString(),
      readyAfterMs: null,
      ports,
      natsUrl: `nats://127.0.0.1:${ports.nats}`,
      stream: STREAM,
      metaSeeds,
      metaUser: this.secrets.admin.user,
      agentUrl: `http://127.0.0.1:${ports.agent}`,
      members: ports.members.map((m, i) => ({
        name: `member${i + 1}`,
        id: `127.0.0.1:${m.raft}`,
        url: `http://127.0.0.1:${m.http}`,
        httpPort: m.http,
        raftPort: m.raft,
        pid: null,
      })),
      clusterId: prev?.clusterId ?? null,
    };
    writeState(this.state);

    // Independent servers in parallel: NATS, the metadata shard, the node agent.
    await Promise.all([
      this.step('nats-server with JetStream', () => this.startNats(ports.nats), () => this.state.natsUrl),
      this.step('metadata shard: 3 MariaDB nodes, GTID + semi-sync, schema', () => this.startMeta(ports.meta), () => metaSeeds),
      this.step('node agent on 127.0.0.1', () => this.startAgent(ports.agent), () => this.state.agentUrl),
    ]);
    writeState(this.state);

    const leader = await this.step('cluster_mgr Raft group: 3 members', () => this.startMembers(peers, metaSeeds), (l) => `leader ${l}`);
    writeState(this.state);

    await this.step('register machine 127.0.0.1 (create_machine, storage + computer)', () => this.registerMachine());
    if (this.o.cluster) {
      const view = await this.view();
      if (view.clusters.length > 0) {
        this.state.clusterId = view.clusters[0]!.id;
        this.say(`✓ cluster ${view.clusters[0]!.id} (${view.clusters[0]!.name}) exists already; not creating another`);
      } else {
        const what = `demo cluster: ${this.o.shards} shard(s) × ${this.o.nodes} node(s) rbr + ${this.o.comps} compute node(s) (create_cluster)`;
        this.state.clusterId = await this.step(what, () => this.createCluster(), (id) => `cluster ${id}`);
      }
    }
    this.state.phase = 'ready';
    this.state.readyAfterMs = Date.now() - this.t0;
    writeState(this.state);
    await this.printSummary(leader);
  }

  /**
   * The block of ports this run uses (ports.ts), with each port of the playground's own servers
   * checked by binding it: a taken one moves to a spare port of the block, with a line naming its
   * holder. With --base-port 0 (tests, several at once): free ports from the kernel.
   */
  private async choosePorts(): Promise<PlaygroundState['ports']> {
    if (this.o.basePort === 0) {
      const members: { http: number; raft: number }[] = [];
      for (let i = 0; i < 3; i++) members.push({ http: await freePort(), raft: await freePort() });
      return { members, nats: await freePort(), agent: await freePort(), meta: [await freePort(), await freePort(), await freePort()] };
    }
    const eph = ephemeralPortRange();
    const { base, warning } = chooseBase(this.o.basePort, eph);
    if (warning) this.say(`warning: ${warning}`);
    this.layout = layout(base);
    const l = this.layout;
    const taken = new Set<number>();
    const pick = (what: string, port: number) => pickPort(what, port, l.spare, taken, (line) => this.say(line));
    const members: { http: number; raft: number }[] = [];
    for (const [i, m] of l.members.entries()) members.push({ http: await pick(`member${i + 1} HTTP`, m.http), raft: await pick(`member${i + 1} Raft`, m.raft) });
    const meta: number[] = [];
    for (const [i, p] of l.meta.entries()) meta.push(await pick(`metadata node ${i + 1}`, p));
    return { members, nats: await pick('NATS', l.nats), agent: await pick('node agent', l.agent), meta };
  }

  /** --keep: the same ports as before (the Raft ids and the metadata seeds name them); a taken one is an error naming its holder. */
  private async resumedPorts(prev: PlaygroundState): Promise<PlaygroundState['ports']> {
    const p = prev.ports;
    await mustBind([
      ...p.members.flatMap((m, i) => [
        { what: `member${i + 1} HTTP`, port: m.http },
        { what: `member${i + 1} Raft`, port: m.raft },
      ]),
      ...p.meta.map((port, i) => ({ what: `metadata node ${i + 1}`, port })),
      { what: 'NATS', port: p.nats },
      { what: 'node agent', port: p.agent },
    ]);
    return p;
  }

  private async startNats(port: number): Promise<void> {
    mkdirSync(join(this.dir, 'nats'), { recursive: true });
    this.nats = new NatsInstance({ dir: join(this.dir, 'nats'), port, users: this.secrets.nats });
    this.nats.proc.spec.cwd = join(this.dir, 'nats');
    await this.nats.start();
  }

  private async startMeta(ports: number[]): Promise<void> {
    this.meta = ports.map(
      (port, i) =>
        new MariaDbInstance({ dir: join(this.dir, 'meta', `node${i + 1}`), port, serverId: 1 + i, admin: this.secrets.admin, lowerCaseTableNames: true, bufferPoolMb: 64 }),
    );
    await Promise.all(this.meta.map((n) => n.start()));
    const [primary, ...replicas] = this.meta as [MariaDbInstance, ...MariaDbInstance[]];
    await wireShard(primary, replicas, { user: 'repl', password: this.secrets.replPassword });
    const c = await primary.connect({ database: undefined });
    try {
      await createSchema(c, { metaHaMode: 'rbr' });
    } finally {
      await c.end();
    }
  }

  private async startAgent(port: number): Promise<void> {
    const d = join(this.dir, 'agent');
    mkdirSync(join(d, 'instances'), { recursive: true });
    const file = join(d, 'agent.cnf');
    cnf(file, {
      brpc_http_port: port,
      local_ip: '127.0.0.1',
      instance_base_dir: join(d, 'instances'),
      api_token_file: this.secrets.agentTokenFile,
      log_file: join(d, 'agent'),
      log_format: 'json',
      log_level: 'info',
    });
    this.agent = new ManagedProcess({
      name: `node agent 127.0.0.1:${port}`,
      command: process.execPath,
      args: [BIN, 'agent', '--config', file],
      logFile: join(d, 'stdout.log'),
      cwd: d,
      stopSignal: 'SIGTERM',
    });
    this.agent.start();
    await waitHttp(`${this.state.agentUrl}/HttpService/Emit`, this.agent, 30_000, 'POST');
  }

  private async startMembers(peers: string, metaSeeds: string): Promise<string> {
    this.members = this.state.members.map((m) => {
      const d = join(this.dir, m.name);
      mkdirSync(d, { recursive: true });
      const file = join(d, 'cluster_mgr.cnf');
      cnf(file, {
        meta_group_seeds: metaSeeds,
        // Also the storage nodes' admin: the manager sends it with install_mysql (no default account).
        meta_user: this.secrets.admin.user,
        meta_pwd: this.secrets.admin.password,
        local_ip: '127.0.0.1',
        brpc_http_port: m.httpPort,
        brpc_raft_port: m.raftPort,
        raft_group_member_init_config: peers,
        cluster_mgr_tmp_data_path: join(d, 'data'),
        nats_url: this.state.natsUrl,
        nats_stream: STREAM,
        nats_user: NATS_MANAGER_USER,
        nats_password_file: this.secrets.natsManagerPasswordFile,
        agent_token_file: this.secrets.agentTokenFile,
        raft_secret_file: this.secrets.raftSecretFile,
        secrets_key_file: this.secrets.secretsKeyFile,
        storage_repl_pwd: this.secrets.replPassword,
        // Anti-flapping: 10 min (the default) between two automatic failovers of a shard would make a
        // second kill of the same shard's primary show no failover. The playground is for trying things
        // in a row.
        failover_min_interval_ms: 5000,
        api_tokens_file: this.tokensFile,
        log_file: join(d, 'cluster_mgr'),
        log_format: 'json',
        log_level: 'info',
      });
      const proc = new ManagedProcess({
        name: `cluster_mgr ${m.name} ${m.url}`,
        command: process.execPath,
        args: [BIN, 'start', '--config', file],
        logFile: join(d, 'stdout.log'),
        cwd: d,
        stopSignal: 'SIGTERM',
      });
      return { entry: m, proc };
    });
    for (const m of this.members) {
      m.proc.start();
      m.entry.pid = m.proc.pid ?? null;
    }
    const urls = this.members.map((m) => m.entry.url);
    const deadline = Date.now() + 60_000;
    for (;;) {
      for (const m of this.members) {
        if (!m.proc.running) throw new Error(`${m.proc.spec.name} ${m.proc.exitDescription}; log ${m.proc.spec.logFile}:\n${m.proc.logTail(15)}`);
      }
      const l = await findLeader(urls, this.api);
      if (l) {
        const ready = await Promise.all(urls.map((u) => getJson<{ ready: boolean }>(`${u}/readyz`, {}, true).then((r) => r.ready, () => false)));
        if (ready.every(Boolean)) {
          const m = this.state.members.find((x) => x.url === l.leader_url);
          return `${m?.name ?? l.leader} ${l.leader_url ?? ''}`.trim();
        }
      }
      if (Date.now() > deadline) throw new Error(`no leader with every member ready after 60 s; logs in ${this.dir}/member*/`);
      await sleep(200);
    }
  }

  private async leaderUrl(): Promise<string> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const l = await findLeader(this.state.members.map((m) => m.url), this.api);
      if (l?.leader_url) return l.leader_url;
      if (Date.now() > deadline) throw new Error('the manager group has no leader');
      await sleep(200);
    }
  }

  async view(): Promise<Minimal> {
    return getJson<Minimal>(`${await this.leaderUrl()}/api/v1/view`, this.api);
  }

  /** Emits on the leader; a failed answer throws with its code and message. */
  private async emitOk(jobType: string, paras: Record<string, unknown>): Promise<EmitAnswer> {
    const a = await emit(await this.leaderUrl(), jobType, paras, '', this.api);
    if (a.status === 'failed') throw new ApiError(`${jobType} failed: ${a.error_code} ${a.error_info}`);
    return a;
  }

  /** Polls get_status until the job ends; prints the step it is in whenever it changes. */
  private async waitJob(jobId: string, jobType: string, timeoutMs: number): Promise<EmitAnswer> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const base = await this.leaderUrl();
      const a = await emit(base, 'get_status', {}, jobId, this.api).catch(() => null);
      if (a && (a.status === 'done' || a.status === 'failed')) {
        if (a.status === 'failed') throw new Error(`${jobType} job ${jobId} failed: ${a.error_code} ${a.error_info}`);
        return a;
      }
      const j = (await this.view().catch(() => null))?.jobs.find((x) => String(x.id) === jobId);
      const now = j?.step ? `step ${j.step.index + 1}/${j.step.total}: ${j.step.name}` : '';
      if (now && now !== last) {
        this.say(`    ${jobType} job ${jobId}: ${now}`);
        last = now;
      }
      if (Date.now() > deadline) throw new Error(`${jobType} job ${jobId} did not end within ${timeoutMs / 1000} s (last status ${a?.status ?? '?'})`);
      await sleep(300);
    }
  }

  private async registerMachine(): Promise<void> {
    const view = await this.view();
    const have = view.machines.find((m) => m.host === '127.0.0.1');
    const inst = join(this.dir, 'agent', 'instances');
    const { storage, computer } = await this.instanceRanges(have?.roles ?? {});
    const storageRange = `${storage.lo}-${storage.hi}`;
    const compRange = `${computer.lo}-${computer.hi}`;
    const roles: [string, Record<string, unknown>][] = [
      ['storage', { datadir: join(inst, 'storage'), logdir: join(inst, 'storage'), wal_log_dir: join(inst, 'storage'), port_range: storageRange }],
      ['computer', { comp_datadir: join(inst, 'computer'), port_range: compRange }],
    ];
    for (const [role, extra] of roles) {
      if (have?.roles[role]) continue;
      const a = await this.emitOk('create_machine', {
        hostaddr: '127.0.0.1',
        machine_type: role,
        rack_id: '1',
        total_mem: '8192',
        total_cpu_cores: '2',
        nodemgr_port: String(this.state.ports.agent),
        ...extra,
      });
      await this.waitJob(String(a.job_id), `create_machine ${role}`, 60_000);
    }
  }

  /**
   * The machine's port ranges. With --base-port 0 (tests, several at once): a random block below the
   * kernel's ephemeral range, claimed so that no other playground or test environment of this machine
   * draws it. Otherwise the block's ranges (ports.ts), started past any port some program holds now
   * among the slots the demo cluster's installs will take, each skipped port named.
   */
  private async instanceRanges(registered: Record<string, unknown>): Promise<{ storage: PortRange; computer: PortRange }> {
    if (this.o.basePort === 0) {
      this.ports ??= claimPortBlock(30_000, 27);
      const lo = this.ports.lo;
      return { storage: { lo, hi: lo + 59 }, computer: { lo: lo + 60, hi: lo + 99 } };
    }
    const l = this.layout ?? layout(chooseBase(this.o.basePort, ephemeralPortRange()).base);
    const want = this.o.cluster ? { storage: this.o.shards * this.o.nodes, computer: this.o.comps } : { storage: 0, computer: 0 };
    const out = { storage: l.storage, computer: l.computer };
    for (const [role, stride] of [['storage', STORAGE_STRIDE], ['computer', COMPUTE_STRIDE]] as const) {
      if (registered[role]) continue;
      const { range, skipped } = await clearRange(l[role], want[role], stride);
      for (const line of skipped) this.say(`${role} port ${line}; the ${role} port_range starts past it`);
      out[role] = range;
    }
    return out;
  }

  private async createCluster(): Promise<number> {
    const a = await this.emitOk('create_cluster', {
      nick_name: 'demo',
      ha_mode: 'rbr',
      shards: String(this.o.shards),
      nodes: String(this.o.nodes),
      comps: String(this.o.comps),
      max_storage_size: '20',
      max_connections: '200',
      cpu_cores: '2',
      innodb_size: '64',
      dbcfg: '1',
      computer_user: COMP_USER,
      computer_password: this.secrets.computePassword,
    });
    const jobId = String(a.job_id);
    this.clusterJob = jobId;
    this.say(`    create_cluster accepted: job ${jobId}`);
    await this.waitJob(jobId, 'create_cluster', 300_000);
    const view = await this.view();
    const c = [...view.clusters].sort((x, y) => y.id - x.id)[0];
    if (!c) throw new Error(`create_cluster job ${jobId} is done but no cluster is in the view`);
    return c.id;
  }

  /** The pid of the server listening for an agent instance (its working dir is under the instance dir). */
  instancePid(kind: 'storage' | 'computer', port: number): number | null {
    const prog = kind === 'storage' ? ['mariadbd', 'mysqld'] : ['postgres'];
    const pids = processesUnder(join(this.dir, 'agent', 'instances', kind, String(port)), prog).sort((a, b) => a - b);
    return pids[0] ?? null;
  }

  private async printSummary(leader: string): Promise<void> {
    const o = this.out;
    const secs = ((this.state.readyAfterMs ?? 0) / 1000).toFixed(1);
    const view = await this.view();
    const first = this.state.members[0]!.url;
    const leaderUrl = await this.leaderUrl();
    // Printed commands carry no token: curl reads the header file, status and replay the token file
    // (by themselves when this is the default playground directory).
    const tokenFile = join(this.dir, PLAYGROUND_TOKEN_FILE);
    const header = join(this.dir, PLAYGROUND_HEADER_FILE);
    const tokenOpt = resolve(this.dir) === resolveDir(undefined) ? '' : ` --token-file ${tokenFile}`;
    o('');
    o(`cluster_mgr playground — started in ${secs} s — ${this.dir}`);
    o('');
    o('API access (the API needs a token; read, operator and admin tokens are in api-tokens):');
    o(`  export CLUSTER_MGR_API_TOKEN=$(cat ${tokenFile})`);
    o(`  curl -H "Authorization: Bearer $CLUSTER_MGR_API_TOKEN" …   or   curl -H @${header} …`);
    o('');
    o('Manager group (Raft):');
    for (const m of this.state.members) {
      const mark = m.url === leaderUrl ? '  ← leader' : '';
      o(`  ${m.name}  ${m.url}  raft ${m.id}  pid ${m.pid ?? '?'}${mark}`);
    }
    o(`  leader: ${leader}`);
    o('');
    o('APIs (on every member; followers forward writes to the leader):');
    o(`  Emit (compatible)  POST ${first}/HttpService/Emit`);
    o(`  REST               ${first}/api/v1/view   ${first}/api/v1/leader`);
    o(`  OpenAPI            ${first}/api/v1/openapi.json`);
    o(`  event stream (SSE) ${first}/api/v1/events`);
    o(`  status page        ${first}/status#token=<the token in ${tokenFile}>`);
    o(`  NATS JetStream     ${this.state.natsUrl}  stream ${STREAM}, subjects kunlun.events.>`);
    o(`  NATS accounts      ${NATS_MANAGER_USER} (members), ${NATS_WATCHER_USER} (read-only); passwords in ${this.secrets.dir}`);
    o(`  node agent         ${this.state.agentUrl}  (instances under ${join(this.dir, 'agent', 'instances')})`);
    // The account comes from an option file: a -p<password> would show in `ps` while the client runs.
    const mysqlCmd = (host: string, port: number): string => `mysql --defaults-extra-file=${this.secrets.mysqlClientCnf} -h ${host} -P ${port}`;
    o(`  metadata shard     ${mysqlCmd('127.0.0.1', this.state.ports.meta[0]!)} kunlun_metadata_db`);
    o(`  MariaDB account    ${this.secrets.admin.user} (metadata shard and storage nodes); its password in ${this.secrets.mysqlClientCnf}`);
    const cluster = view.clusters.find((c) => c.id === this.state.clusterId) ?? null;
    let killLine: string | null = null;
    let switchLine: string | null = null;
    let switchShard = -1;
    if (cluster) {
      // The switchover example uses the last shard, the kill example the first, so both can be tried.
      const shards = view.shards.filter((x) => x.cluster === cluster.id);
      switchShard = shards.at(-1)?.id ?? -1;
      o('');
      o(`Cluster ${cluster.id} ${cluster.name} (${cluster.nickName || 'demo'}, ${cluster.haMode}):`);
      for (const c of view.comps.filter((x) => x.cluster === cluster.id)) {
        o(`  compute node ${c.id} ${c.name}: psql postgres://${COMP_USER}:${this.secrets.computePassword}@${c.hostaddr}:${c.port}/postgres   pid ${this.instancePid('computer', c.port) ?? '?'}`);
      }
      for (const s of view.shards.filter((x) => x.cluster === cluster.id)) {
        const p = view.nodes.find((n) => n.id === s.primary);
        const reps = view.nodes.filter((n) => n.shard === s.id && n.id !== s.primary);
        if (!p) {
          o(`  shard ${s.id} ${s.name}: no primary`);
          continue;
        }
        const pid = this.instancePid('storage', p.port);
        o(`  shard ${s.id} ${s.name}: primary ${p.hostaddr}:${p.port} (pid ${pid ?? '?'}), replicas ${reps.map((r) => `${r.hostaddr}:${r.port}`).join(' ') || '-'}`);
        o(`    ${mysqlCmd(p.hostaddr, p.port)}`);
        if (!killLine && pid) killLine = `kill -9 ${pid}    # shard ${s.id}'s primary ${p.hostaddr}:${p.port}`;
        if (s.id === switchShard && reps[0]) {
          switchLine = `curl -s -H @${header} ${first}/HttpService/Emit -d '{"version":"1.0","job_type":"manual_switch","paras":{"cluster_id":"${cluster.id}","shard_id":"${s.id}","master_hostaddr":"${p.hostaddr}_${p.port}","assign_hostaddr":"${reps[0].hostaddr}_${reps[0].port}"}}'`;
        }
      }
    }
    const lastJob = view.jobs.find((j) => String(j.id) === this.clusterJob) ?? [...view.jobs].sort((a, b) => Number(b.id) - Number(a.id))[0];
    const cli = `node ${BIN}`;
    o('');
    o('Try:');
    if (lastJob) {
      o(`  # status of job ${lastJob.id} (${lastJob.jobType})`);
      o(`  curl -s -H @${header} ${first}/HttpService/Emit -d '{"version":"1.0","job_id":"${lastJob.id}","job_type":"get_status","paras":{}}'`);
    }
    o('  # the whole topology, live (Ctrl-C to leave)');
    o(`  ${cli} status${tokenOpt} --url ${first} --watch`);
    if (switchLine) {
      o(`  # switch shard ${switchShard}'s primary over to a replica (planned switchover); then get_status of the job id it answers`);
      o(`  ${switchLine}`);
    }
    if (killLine) {
      o('  # kill a primary and watch the failover in `status --watch` or on the status page');
      o(`  ${killLine}`);
    }
    o('  # replay the audit log from the JetStream mirror and compare it with a live member');
    const watcher = `--nats-user ${NATS_WATCHER_USER} --nats-password-file ${this.secrets.natsWatcherPasswordFile}`;
    o(`  ${cli} replay --nats ${this.state.natsUrl} ${watcher} --stream ${STREAM} --verify --compare ${first}${tokenOpt}`);
    o('  # follow events and status live from NATS (read-only account)');
    o(`  ${cli} watch --nats ${this.state.natsUrl} ${watcher}`);
    o('  # stop everything (or Ctrl-C here)');
    o(`  ${cli} playground --down --dir ${this.dir}`);
    o('');
    o('playground ready');
  }

  /** Stops everything this playground started; idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (!this.owns) return;
    const t = Date.now();
    if (this.state) {
      this.state.phase = 'stopping';
      if (existsSync(this.dir)) writeState(this.state);
    }
    this.say('stopping: members, node agent, instances, metadata shard, nats-server');
    await Promise.all(this.members.map((m) => m.proc.stop(10_000)));
    await this.agent?.stop(10_000);
    // The agent's instances outlive the agent by design; the playground owns them all.
    await sweep(join(this.dir, 'agent'), 20_000);
    await Promise.all(this.meta.map((n) => n.proc.stop(20_000)));
    await this.nats?.proc.stop(10_000);
    const left = await sweep(this.dir, 5_000);
    if (left > 0) this.say(`stopped ${left} more process(es) left under ${this.dir}`);
    this.ports?.release();
    if (this.o.keep) {
      if (this.state) {
        this.state.phase = 'ready';
        this.state.pid = 0;
        if (existsSync(this.dir)) writeState(this.state);
      }
      this.say(`stopped in ${((Date.now() - t) / 1000).toFixed(1)} s; data kept in ${this.dir} for the next start`);
    } else {
      rmSync(this.dir, { recursive: true, force: true });
      this.say(`stopped in ${((Date.now() - t) / 1000).toFixed(1)} s; removed ${this.dir}`);
    }
  }
}

async function waitHttp(url: string, proc: ManagedProcess, ms: number, method = 'GET'): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!proc.running) throw new Error(`${proc.spec.name} ${proc.exitDescription}; log ${proc.spec.logFile}:\n${proc.logTail(15)}`);
    try {
      await fetch(url, { method, body: method === 'POST' ? '{}' : undefined, signal: AbortSignal.timeout(1_000) });
      return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${proc.spec.name} does not answer on ${url} after ${ms / 1000} s`);
    await sleep(100);
  }
}

/** `--down`: asks the owner to stop (SIGTERM), waits, then makes sure nothing runs under the dir. */
export async function down(dir: string, out: (l: string) => void = (l) => console.log(l)): Promise<number> {
  const s = readState(dir);
  if (!s && !existsSync(dir)) {
    out(`no playground in ${dir}`);
    return 0;
  }
  if (s && alive(s.pid) && s.pid !== process.pid) {
    out(`stopping the playground (pid ${s.pid}) in ${dir}`);
    process.kill(s.pid, 'SIGTERM');
    const end = Date.now() + 90_000;
    while (alive(s.pid) && Date.now() < end) await sleep(200);
    if (alive(s.pid)) {
      out(`pid ${s.pid} did not stop within 90 s; killing it`);
      process.kill(s.pid, 'SIGKILL');
      await sleep(500);
    }
  }
  const n = await sweep(dir, 10_000);
  if (n > 0) out(`stopped ${n} process(es) still running under ${dir}`);
  const left = processesUnder(dir, SWEEP).filter((p) => p !== process.pid && p !== process.ppid);
  const kept = readState(dir)?.keep === true;
  if (!kept && existsSync(dir) && left.length === 0) rmSync(dir, { recursive: true, force: true });
  out(left.length === 0 ? `playground stopped; no process left under ${dir}${kept ? ' (data kept)' : ''}` : `still running under ${dir}: ${left.join(' ')}`);
  return left.length === 0 ? 0 : 1;
}

export { stateFile };
