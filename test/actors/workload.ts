// A seeded generator of realistic logs: every batch is built by checkCommand against a "leader" world,
// encoded, and applied, exactly as the leader would propose it. It creates clusters through jobs with
// steps, adds and removes shards, nodes and compute nodes, flaps health, runs failovers and
// switchovers with fencing and rejoins, sets no-switch windows, changes leaders, and sometimes
// proposes two commands checked against the same state so the second is refused at apply.
import type { Evidence } from '../../src/events/catalog.js';
import { encodeBatch } from '../../src/events/codec.js';
import type { Cause } from '../../src/events/envelope.js';
import type { Health } from '../../src/events/vocab.js';
import { IdAllocator, type Command, type CommandResult } from '../../src/actors/commands/index.js';
import { checkCommand } from '../helpers/job-catalog.js';
import { World } from '../../src/actors/world.js';

/** mulberry32: small, fast, good enough to drive a simulation; same seed, same sequence. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface WorkloadOptions {
  seed: number;
  storageHosts?: number;
  computerHosts?: number;
  /** Stop creating clusters beyond this many live ones (the rest of the work goes to existing ones). */
  maxClusters?: number;
}

export interface WorkloadStats {
  entries: number;
  events: number;
  refusedChecks: number;
  refusedAtApply: number;
}

const USER: Cause = { user: 'kunlun_test' };

export class Workload {
  readonly world = new World();
  /** The Raft log: entry i+1 carries log[i]. */
  readonly log: Uint8Array[] = [];
  readonly stats: WorkloadStats = { entries: 0, events: 0, refusedChecks: 0, refusedAtApply: 0 };
  readonly rnd: () => number;
  private at = 1_764_000_000_000;
  private term = 1;
  private readonly storage: string[] = [];
  private readonly computer: string[] = [];
  private readonly members = ['m1', 'm2', 'm3'];
  private readonly maxClusters: number;

  constructor(opts: WorkloadOptions) {
    this.rnd = prng(opts.seed);
    this.maxClusters = opts.maxClusters ?? 40;
    const ns = opts.storageHosts ?? 24;
    const nc = opts.computerHosts ?? 8;
    for (let i = 0; i < ns; i++) this.storage.push(`10.0.${(i / 200) | 0}.${(i % 200) + 1}`);
    for (let i = 0; i < nc; i++) this.computer.push(`10.1.${(i / 200) | 0}.${(i % 200) + 1}`);
    this.bootstrap();
  }

  private pick<T>(xs: readonly T[]): T | undefined {
    return xs.length === 0 ? undefined : xs[Math.floor(this.rnd() * xs.length)];
  }

  private chance(p: number): boolean {
    return this.rnd() < p;
  }

  private evidence(summary: string, facts: Evidence['facts'] = {}): Evidence {
    return { observer: this.members[(this.term - 1) % 3]!, summary, facts };
  }

  /** Checks a command at the current world and, if accepted, proposes (appends and applies) it. */
  propose(cmd: Command, cause: Cause = USER): CommandResult {
    this.at += 1 + Math.floor(this.rnd() * 2000);
    const r = checkCommand(this.world, cmd, { at: this.at, cause });
    if (!r.ok) {
      this.stats.refusedChecks++;
      return r;
    }
    this.append(encodeBatch(r.events));
    return r;
  }

  private append(data: Uint8Array): void {
    this.log.push(data);
    const res = this.world.applyEntry(this.log.length, data);
    this.stats.entries++;
    if (res.ok) this.stats.events += res.committed.length;
    else this.stats.refusedAtApply++;
  }

  private bootstrap(): void {
    for (const [i, m] of this.members.entries()) {
      this.propose({ kind: 'manager.add', id: m, host: `10.9.0.${i + 1}`, raftPort: 8110, httpPort: 8010 });
    }
    this.propose({ kind: 'manager.elect', id: 'm1', term: this.term }, { system: 'raft' });
    for (const h of this.storage) {
      this.propose({
        kind: 'machine.create',
        hostaddr: h,
        role: 'storage',
        rackId: String(this.storage.indexOf(h) % 4),
        datadir: '/data/d',
        logdir: '/data/l',
        walLogDir: '/data/w',
        totalMemMB: 65536,
        totalCpuCores: 16,
      });
    }
    for (const h of this.computer) {
      this.propose({ kind: 'machine.create', hostaddr: h, role: 'computer', rackId: '0', compDatadir: '/data/c', totalMemMB: 32768, totalCpuCores: 8 });
    }
  }

  /** Runs random operations until the log holds at least `events` committed events. */
  run(events: number): this {
    while (this.stats.events < events) this.step();
    return this;
  }

  step(): void {
    const live = this.world.ids('cluster').length;
    const r = this.rnd();
    if (live < 2 || (r < 0.08 && live < this.maxClusters)) this.createCluster();
    else if (r < 0.3) this.healthFlap();
    else if (r < 0.4) this.failover();
    else if (r < 0.46) this.rejoin();
    else if (r < 0.52) this.switchover();
    else if (r < 0.58) this.addNodes();
    else if (r < 0.62) this.deleteNode();
    else if (r < 0.66) this.addComp();
    else if (r < 0.68) this.deleteComp();
    else if (r < 0.72) this.addShard();
    else if (r < 0.74) this.deleteShard();
    else if (r < 0.76) this.deleteCluster();
    else if (r < 0.82) this.noSwitch();
    else if (r < 0.86) this.machineHealth();
    else if (r < 0.88) this.leaderChange();
    else if (r < 0.92) this.staleProposals();
    else if (r < 0.96) this.refusedJob();
    else if (r < 0.98) this.compStatus();
    else this.backupStorage();
  }

  // ---- helpers over the world ----

  /** A random id satisfying `ok`, trying a few at random (filtering every aggregate is too slow for big logs). */
  private sample<T>(ids: readonly T[], ok: (id: T) => boolean, tries = 24): T | undefined {
    for (let i = 0; i < tries && ids.length > 0; i++) {
      const id = ids[Math.floor(this.rnd() * ids.length)]!;
      if (ok(id)) return id;
    }
    return undefined;
  }

  private inuseCluster(ok: (id: number) => boolean = () => true): number | undefined {
    return this.sample(this.world.ids('cluster'), (id) => {
      const c = this.world.cluster(id);
      return c?.status === 'inuse' && c.lockedBy === null && ok(id);
    });
  }

  private freePort(host: string, role: 'storage' | 'computer', taken: Set<string>): number | null {
    const spec = this.world.machine(host)?.roles[role];
    if (spec === undefined) return null;
    const used = new Set(this.world.usedPorts(host, role));
    for (let p = spec.portRange.lo; p <= spec.portRange.hi; p += 4) {
      if (!used.has(p) && !taken.has(`${host}:${p}`)) return p;
    }
    return null;
  }

  private placeNodes(n: number): Array<{ hostaddr: string; port: number }> | null {
    const hosts = [...this.storage].sort(() => this.rnd() - 0.5).slice(0, n);
    const taken = new Set<string>();
    const out: Array<{ hostaddr: string; port: number }> = [];
    for (const h of hosts) {
      const p = this.freePort(h, 'storage', taken);
      if (p === null) return null;
      taken.add(`${h}:${p}`);
      out.push({ hostaddr: h, port: p });
    }
    return out.length === n ? out : null;
  }

  private startJob(jobType: string, request: Record<string, unknown>): number | null {
    const r = this.propose({ kind: 'job.start', jobType, request });
    if (!r.ok) return null;
    const created = r.events.find((e) => e.type === 'job.created');
    return created === undefined ? null : Number(created.agg.slice(4));
  }

  private jobStep(job: number, step: string, index: number, total: number, body: () => boolean): boolean {
    const cause: Cause = { system: 'reconciler', job };
    this.propose({ kind: 'job.step_start', job, step, index, total }, cause);
    const ok = body();
    this.propose({ kind: 'job.step_finish', job, step, ok, done: index + 1, total, info: ok ? 'ok' : 'failed' }, cause);
    return ok;
  }

  private endJob(job: number, ok: boolean): void {
    const cause: Cause = { system: 'reconciler', job };
    if (ok) this.propose({ kind: 'job.finish', job, result: { status: 'done' } }, cause);
    else this.propose({ kind: 'job.fail', job, code: 70093, info: 'install failed', result: {} }, cause);
  }

  /** Brings a new shard's nodes up: active, alive, the first one primary and writable. */
  private bringUpShard(shard: number, job: number): void {
    const cause: Cause = { system: 'reconciler', job };
    const nodes = this.world.nodesOf(shard);
    for (const n of nodes) {
      this.propose({ kind: 'node.set_status', node: n, status: 'active' }, cause);
      this.propose({ kind: 'node.set_health', node: n, health: 'alive', evidence: this.evidence('installed') }, { system: 'probe' });
    }
    const first = nodes[0];
    if (first === undefined) return;
    this.propose({ kind: 'shard.set_primary', shard, node: first, term: this.term }, cause);
    this.propose({ kind: 'node.set_access', node: first, access: 'writable' }, cause);
    this.propose({ kind: 'shard.set_status', shard, status: 'inuse' }, cause);
  }

  // ---- operations ----

  private createCluster(): void {
    const shards = 1 + Math.floor(this.rnd() * 3);
    const comps = 1 + Math.floor(this.rnd() * 2);
    const job = this.startJob('create_cluster', {
      ha_mode: 'rbr',
      shards: String(shards),
      nodes: '3',
      comps: String(comps),
      max_storage_size: '20',
      max_connections: '6',
      cpu_cores: '8',
      innodb_size: '128',
      dbcfg: '0',
      nick_name: `c${this.world.next.cluster}`,
      computer_user: 'abc',
      computer_password: 'secret-pw',
    });
    if (job === null) return;
    const cluster = this.world.job(job)!.cluster!;
    const cause: Cause = { system: 'reconciler', job };
    const failAt = this.chance(0.06) ? Math.floor(this.rnd() * 2) : -1;
    const storageOk = this.jobStep(job, 'storage', 0, 2, () => {
      if (failAt === 0) return false;
      for (let i = 0; i < shards; i++) {
        const nodes = this.placeNodes(3);
        if (nodes === null) return false;
        const r = this.propose({ kind: 'shard.add', cluster, nodes }, cause);
        if (!r.ok) return false;
        this.bringUpShard(Number(r.events[0]!.agg.slice(6)), job);
      }
      return true;
    });
    const compOk =
      storageOk &&
      this.jobStep(job, 'computer', 1, 2, () => {
        if (failAt === 1) return false;
        for (let i = 0; i < comps; i++) {
          if (!this.addCompTo(cluster, cause)) return false;
        }
        return true;
      });
    if (storageOk && compOk) {
      this.propose({ kind: 'cluster.set_status', cluster, status: 'inuse' }, cause);
      this.endJob(job, true);
    } else {
      // Roll back as the original does: everything created goes, then the job fails.
      this.propose({ kind: 'cluster.delete', cluster }, cause);
      this.endJob(job, false);
    }
  }

  private addCompTo(cluster: number, cause: Cause): boolean {
    const host = this.pick(this.computer)!;
    const port = this.freePort(host, 'computer', new Set());
    if (port === null) return false;
    const r = this.propose({ kind: 'comp.add', cluster, hostaddr: host, port }, cause);
    if (!r.ok) return false;
    this.propose({ kind: 'comp.set_status', comp: Number(r.events[0]!.agg.slice(5)), status: 'active' }, cause);
    return true;
  }

  private randomNode(): number | undefined {
    return this.pick(this.world.ids('node'));
  }

  private healthFlap(): void {
    const n = this.randomNode();
    if (n === undefined) return;
    const cur = this.world.node(n)!.health;
    const next: Health = cur === 'alive' ? (this.pick(['unreachable', 'busy', 'dead'] as const) ?? 'busy') : 'alive';
    this.propose(
      { kind: 'node.set_health', node: n, health: next, evidence: this.evidence(`probe says ${next}`, { errno: next === 'alive' ? 0 : 2003 }) },
      { system: 'probe' },
    );
  }

  private failover(): void {
    const shard = this.sample(this.world.ids('shard'), (s) => {
      const v = this.world.shard(s)!;
      return v.status === 'inuse' && v.primary !== null && v.task === null && v.nodes.length >= 2;
    });
    if (shard === undefined) return;
    const s = this.world.shard(shard)!;
    const old = s.primary!;
    const sys: Cause = { system: 'ha' };
    if (this.world.node(old)!.health !== 'dead') {
      this.propose({ kind: 'node.set_health', node: old, health: 'dead', evidence: this.evidence('3 probes failed', { errno: 2003 }) }, { system: 'probe' });
    }
    const r = this.propose({ kind: 'failover.start', shard, failoverKind: 'failover', term: this.term, evidence: this.evidence('primary dead for 20s') }, sys);
    if (!r.ok) return;
    const task = (r.events[0] as { data: { task: number } }).data.task;
    this.runTask(shard, task, old, 'kill');
  }

  private runTask(shard: number, task: number, old: number, fence: 'kill' | 'super_read_only'): boolean {
    const sys: Cause = { system: 'ha' };
    for (const step of ['detect', 'corroborate', 'quorum', 'freeze'] as const) {
      this.propose({ kind: 'failover.step', shard, task, step, ok: true, info: '' }, sys);
    }
    const s = this.world.shard(shard)!;
    const candidates = s.nodes.filter((n) => n !== old && this.world.node(n)!.repair === 'ok');
    const cand = s.task?.target ?? this.pick(candidates);
    if (cand === undefined || this.chance(0.1)) {
      this.propose({ kind: 'failover.abort', shard, task, code: 70007, reason: 'not enough fullsync replicas alive' }, sys);
      return false;
    }
    this.propose({ kind: 'failover.step', shard, task, step: 'elect', ok: true, info: 'max gtid', candidate: cand }, sys);
    if (this.world.node(cand)!.health !== 'alive') {
      this.propose({ kind: 'node.set_health', node: cand, health: 'alive', evidence: this.evidence('probe ok') }, { system: 'probe' });
    }
    this.propose({ kind: 'node.fence', node: old, method: fence, task, evidence: this.evidence('fenced') }, sys);
    for (const step of ['drain', 'fence', 'promote', 'repoint', 'metadata'] as const) {
      this.propose({ kind: 'failover.step', shard, task, step, ok: true, info: '' }, sys);
    }
    return this.propose({ kind: 'failover.finish', shard, task, primary: cand, term: this.term }, sys).ok;
  }

  private rejoin(): void {
    const n = this.sample(this.world.ids('node'), (id) => this.world.node(id)!.repair !== 'ok', 64);
    if (n === undefined) return;
    const v = this.world.node(n)!;
    if (v.health !== 'alive') {
      this.propose({ kind: 'node.set_health', node: n, health: 'alive', evidence: this.evidence('back') }, { system: 'probe' });
    }
    if (v.repair === 'fenced' && this.chance(0.7)) {
      this.propose({ kind: 'node.rejoin', node: n, method: this.chance(0.5) ? 'change_master' : 'flashback' }, { system: 'ha' });
      return;
    }
    if (v.repair === 'fenced') {
      this.propose({ kind: 'node.mark_needs_rebuild', node: n, reason: 'errant GTIDs', evidence: this.evidence('errant', { errant: 'uuid:5-9' }) }, { system: 'ha' });
    }
    const job = this.startJob('rebuild_node', {
      cluster_id: String(v.cluster),
      shard_id: String(v.shard),
      allow_pull_from_master: '1',
      rb_nodes: [{ hostaddr: v.hostaddr, port: String(v.port), need_backup: '0' }],
    });
    if (job === null) return;
    const ok = this.jobStep(job, 'rebuild', 0, 1, () => this.chance(0.9));
    if (ok) this.propose({ kind: 'node.rejoin', node: n, method: 'rebuild' }, { system: 'reconciler', job });
    this.endJob(job, ok);
  }

  private switchover(): void {
    const shard = this.sample(this.world.ids('shard'), (s) => {
      const v = this.world.shard(s)!;
      return v.status === 'inuse' && v.primary !== null && v.task === null && this.world.cluster(v.cluster)?.lockedBy === null;
    });
    if (shard === undefined) return;
    const s = this.world.shard(shard)!;
    const target = this.pick(s.nodes.filter((n) => n !== s.primary && this.world.node(n)!.health === 'alive' && this.world.node(n)!.repair === 'ok'));
    if (target === undefined) return;
    const p = this.world.node(s.primary!)!;
    const t = this.world.node(target)!;
    const job = this.startJob('manual_switch', {
      cluster_id: String(s.cluster),
      shard_id: String(shard),
      master_hostaddr: `${p.hostaddr}_${p.port}`,
      assign_hostaddr: `${t.hostaddr}_${t.port}`,
    });
    if (job === null) return;
    const cause: Cause = { system: 'ha', job };
    const r = this.propose({ kind: 'failover.start', shard, failoverKind: 'switchover', target, term: this.term, evidence: this.evidence('manual switch') }, cause);
    if (!r.ok) {
      this.endJob(job, false);
      return;
    }
    const task = (r.events[0] as { data: { task: number } }).data.task;
    const ok = this.runTask(shard, task, s.primary!, 'super_read_only');
    if (ok && this.chance(0.8)) this.propose({ kind: 'node.rejoin', node: s.primary!, method: 'change_master' }, cause);
    this.endJob(job, ok);
  }

  private addNodes(): void {
    const cluster = this.inuseCluster();
    if (cluster === undefined) return;
    const shard = this.pick(this.world.shardsOf(cluster));
    if (shard === undefined) return;
    const job = this.startJob('add_nodes', { cluster_id: String(cluster), shard_id: String(shard), nodes: '1' });
    if (job === null) return;
    const ok = this.jobStep(job, 'install', 0, 1, () => {
      const placed = this.placeNodes(1);
      if (placed === null) return false;
      const r = this.propose({ kind: 'node.add', shard, ...placed[0]! }, { system: 'reconciler', job });
      if (!r.ok) return false;
      const id = Number(r.events[0]!.agg.slice(5));
      const primary = this.world.primaryOf(shard);
      this.propose({ kind: 'node.set_status', node: id, status: 'active' }, { system: 'reconciler', job });
      this.propose({ kind: 'node.set_health', node: id, health: 'alive', evidence: this.evidence('installed') }, { system: 'probe' });
      return primary !== null;
    });
    this.endJob(job, ok);
  }

  private deleteNode(): void {
    const shard = this.sample(this.world.ids('shard'), (s) => (this.world.shard(s)?.nodes.length ?? 0) > 3);
    if (shard === undefined) return;
    const s = this.world.shard(shard)!;
    const node = this.pick(s.nodes.filter((n) => n !== s.primary));
    if (node === undefined) return;
    const v = this.world.node(node)!;
    const job = this.startJob('delete_node', { cluster_id: String(s.cluster), shard_id: String(shard), hostaddr: v.hostaddr, port: String(v.port) });
    if (job === null) return;
    const ok = this.jobStep(job, 'uninstall', 0, 1, () => this.propose({ kind: 'node.delete', node }, { system: 'reconciler', job }).ok);
    this.endJob(job, ok);
  }

  private addComp(): void {
    const cluster = this.inuseCluster();
    if (cluster === undefined) return;
    const job = this.startJob('add_comps', { cluster_id: String(cluster), comps: '1' });
    if (job === null) return;
    const ok = this.jobStep(job, 'install', 0, 1, () => this.addCompTo(cluster, { system: 'reconciler', job }));
    this.endJob(job, ok);
  }

  private deleteComp(): void {
    const cluster = this.inuseCluster((c) => this.world.compsOf(c).length > 1);
    if (cluster === undefined) return;
    const comp = this.pick(this.world.compsOf(cluster))!;
    const job = this.startJob('delete_comp', { cluster_id: String(cluster), comp_id: String(comp) });
    if (job === null) return;
    const ok = this.jobStep(job, 'uninstall', 0, 1, () => this.propose({ kind: 'comp.delete', comp }, { system: 'reconciler', job }).ok);
    this.endJob(job, ok);
  }

  private addShard(): void {
    const cluster = this.inuseCluster();
    if (cluster === undefined) return;
    const job = this.startJob('add_shards', { cluster_id: String(cluster), shards: '1', nodes: '3' });
    if (job === null) return;
    const ok = this.jobStep(job, 'install', 0, 1, () => {
      const nodes = this.placeNodes(3);
      if (nodes === null) return false;
      const r = this.propose({ kind: 'shard.add', cluster, nodes }, { system: 'reconciler', job });
      if (!r.ok) return false;
      this.bringUpShard(Number(r.events[0]!.agg.slice(6)), job);
      return true;
    });
    this.endJob(job, ok);
  }

  private deleteShard(): void {
    const cluster = this.inuseCluster((c) => this.world.shardsOf(c).length > 1);
    if (cluster === undefined) return;
    const shard = this.pick(this.world.shardsOf(cluster))!;
    const job = this.startJob('delete_shard', { cluster_id: String(cluster), shard_id: String(shard) });
    if (job === null) return;
    const ok = this.jobStep(job, 'uninstall', 0, 1, () => this.propose({ kind: 'shard.delete', shard }, { system: 'reconciler', job }).ok);
    this.endJob(job, ok);
  }

  private deleteCluster(): void {
    if (this.world.ids('cluster').length < Math.min(4, this.maxClusters)) return;
    const cluster = this.inuseCluster();
    if (cluster === undefined) return;
    const job = this.startJob('delete_cluster', { cluster_id: String(cluster) });
    if (job === null) return;
    const cause: Cause = { system: 'reconciler', job };
    this.propose({ kind: 'cluster.set_status', cluster, status: 'deleting' }, cause);
    const ok = this.jobStep(job, 'uninstall', 0, 1, () => this.propose({ kind: 'cluster.delete', cluster }, cause).ok);
    this.endJob(job, ok);
  }

  private noSwitch(): void {
    const shard = this.pick(this.world.ids('shard'));
    if (shard === undefined) return;
    if (this.world.shard(shard)!.noSwitch !== null && this.chance(0.6)) {
      this.propose({ kind: 'shard.clear_no_switch', shard });
    } else {
      this.propose({ kind: 'shard.set_no_switch', shard, until: this.at + 60_000 + Math.floor(this.rnd() * 600_000), reason: 'maintenance' });
    }
  }

  private machineHealth(): void {
    const host = this.pick([...this.storage, ...this.computer])!;
    const cur = this.world.machine(host)?.stats;
    const stats = cur === 'running' ? (this.chance(0.5) ? 'dead' : 'idle') : 'running';
    this.propose({ kind: 'machine.set_health', hostaddr: host, stats, evidence: this.evidence('node agent ping', { failures: stats === 'dead' ? 11 : 0 }) }, { system: 'probe' });
  }

  private leaderChange(): void {
    this.term++;
    this.propose({ kind: 'manager.elect', id: this.members[(this.term - 1) % 3]!, term: this.term }, { system: 'raft' });
  }

  /** Two commands checked against the same state, proposed back to back: the second may be refused at apply. */
  private staleProposals(): void {
    const n = this.randomNode();
    if (n === undefined) return;
    const ids = new IdAllocator(this.world);
    this.at += 10;
    const ctx = { at: this.at, cause: { system: 'probe' } as Cause, ids };
    const a = checkCommand(this.world, { kind: 'node.set_health', node: n, health: 'busy', evidence: this.evidence('busy') }, ctx);
    const b = checkCommand(this.world, { kind: 'node.set_health', node: n, health: 'busy', evidence: this.evidence('busy again') }, ctx);
    if (a.ok) this.append(encodeBatch(a.events));
    if (b.ok) this.append(encodeBatch(b.events));
  }

  /** A request that must be refused before it reaches the log (it is counted, not proposed). */
  private refusedJob(): void {
    const cluster = this.pick(this.world.ids('cluster'));
    const bad = this.pick([
      { jobType: 'delete_cluster', request: { cluster_id: '999999' } },
      { jobType: 'add_shards', request: { cluster_id: String(cluster ?? 1), shards: '0', nodes: '3' } },
      { jobType: 'create_cluster', request: { ha_mode: 'paxos', shards: '1', nodes: '3', comps: '1' } },
    ])!;
    this.propose({ kind: 'job.start', ...bad });
  }

  /** Backup storages come, change and go (a directory or a bucket). */
  private backupStorage(): void {
    const name = this.pick(['nfs1', 'nfs2', 's3a'])!;
    const none = { path: null, hostaddr: null, port: null, endpoint: null, bucket: null, prefix: null, region: null, credentialsFile: null, credentialsEnv: null };
    const settings =
      name === 's3a'
        ? { ...none, stype: 's3' as const, bucket: 'kunlun-backups', prefix: `p${Math.floor(this.rnd() * 5)}`, region: 'us-east-1', credentialsEnv: 'KB_S3' }
        : { ...none, stype: 'fs' as const, path: `/mnt/${name}/${Math.floor(this.rnd() * 5)}` };
    if (this.world.backupStorage(name) === null) this.propose({ kind: 'backup_storage.create', name, settings });
    else if (this.chance(0.5)) this.propose({ kind: 'backup_storage.update', name, settings });
    else this.propose({ kind: 'backup_storage.delete', name });
  }

  private compStatus(): void {
    const comp = this.pick(this.world.ids('comp'));
    if (comp === undefined) return;
    const cur = this.world.comp(comp)!.status;
    this.propose({ kind: 'comp.set_status', comp, status: cur === 'active' ? 'inactive' : 'active' }, { system: 'probe' });
  }
}
