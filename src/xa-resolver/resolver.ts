// Leader-only resolver of leftover prepared XA branches (HA reference §6.3). One key per cluster and one
// for the metadata shard; each key's run is a scan loop that lives as long as this leadership:
// XA RECOVER on every shard primary, the commit-log row by (compute node, txn id), then decideBranch.
// An abort is claimed in the commit log (fenced by the unique key and the leader term) before any
// rollback. Branch age is the time this leader has seen the branch prepared, kept in memory and
// restarted on a new term: a new leader waits a full safety window again, which costs time, never
// safety. Every action is idempotent (an ended branch is "unknown" to the server) and logged.
import { xaSettings, type XaSettings } from '../config/xa-settings.js';
import type { Logger } from '../log/logger.js';
import { claimAbort, pruneCommitLog, readDecision, type CommitLogKey } from '../metadata/commit-log.js';
import { metaConnectOptions } from '../metadata/connect.js';
import type { ConfigReader, WorldReader } from '../ports/index.js';
import { checkLeading, sleepWhileLeading, type LeaderContext, type Reconciler } from '../reconcile/host.js';
import { parseConnectMap } from '../shard-ha/settings.js';
import type { Endpoint } from '../storage-node/replication.js';
import { StorageNode } from '../storage-node/storage-node.js';
import { commitLogKey, endBranch, parseXid, recoverBranches, xaRecover, type KunlunXid } from '../storage-node/xa.js';
import { afterClaim, decideBranch, FirstSeen, pruneBound, type Action } from './decide.js';
import { MetaLink, sqlOf } from './meta-link.js';

/** One global transaction as found on the scanned primaries. */
interface Txn {
  x: KunlunXid;
  xid: string;
  key: CommitLogKey;
  branches: { shard: number; node: StorageNode }[];
  /** The latest first-seen time of its branches (monotonic ms). */
  seenSince: number;
}

/** What the resolver uses of the member: the world (clusters, comps) and the configuration. */
export type XaRuntime = WorldReader & ConfigReader;

/** Per-run resources: closed when the scan loop ends (leadership lost, cluster gone). */
class Links {
  readonly meta: MetaLink;
  private readonly nodes = new Map<string, StorageNode>();
  private readonly connectMap: Map<string, Endpoint>;

  constructor(
    private readonly rt: XaRuntime,
    private readonly s: XaSettings,
  ) {
    const cfg = rt.cfg;
    this.connectMap = parseConnectMap(cfg.str('storage_connect_map'));
    this.meta = new MetaLink({ ...metaConnectOptions(cfg), statementMs: s.statementMs });
  }

  /** Storage nodes are reached with meta_user, as the original cluster_mgr does (and as shard HA does). */
  node(id: number, host: string, port: number): StorageNode {
    const k = `${id}@${host}:${port}`;
    let n = this.nodes.get(k);
    if (!n) {
      const cfg = this.rt.cfg;
      const via = this.connectMap.get(`${host}:${port}`);
      n = new StorageNode({
        id: String(id),
        host,
        port,
        ...(via ? { via } : {}),
        user: cfg.str('meta_user'),
        password: cfg.str('meta_pwd'),
        connectTimeoutMs: this.s.connectTimeoutMs,
        queryTimeoutMs: this.s.statementMs,
        poolSize: 1,
      });
      this.nodes.set(k, n);
    }
    return n;
  }

  async close(): Promise<void> {
    this.meta.drop();
    await Promise.all([...this.nodes.values()].map((n) => n.close().catch(() => undefined)));
    this.nodes.clear();
  }
}

export class XaResolver implements Reconciler {
  readonly name = 'xa-resolver';
  private term = 0;
  private seen = new FirstSeen();
  private readonly lastPrune = new Map<number, number>();
  private readonly refused = new Set<string>();
  private readonly s: XaSettings;

  constructor(private readonly rt: XaRuntime) {
    this.s = xaSettings(rt.cfg);
  }

  keys(): string[] {
    if (this.rt.cfg.metaSeeds.length === 0) return [];
    return ['metadata', ...this.rt.world.ids('cluster').map((id) => `cluster/${id}`)];
  }

  affected(changed: ReadonlySet<string>): string[] {
    // A running loop re-reads the world every scan; only a new cluster needs a new loop.
    return this.keys().filter((k) => changed.has(k));
  }

  async reconcile(key: string, ctx: LeaderContext): Promise<void> {
    if (ctx.term !== this.term) {
      this.term = ctx.term;
      this.seen = new FirstSeen();
      this.lastPrune.clear();
      this.refused.clear();
    }
    const cluster = key === 'metadata' ? null : Number(key.slice('cluster/'.length));
    const links = new Links(this.rt, this.s);
    try {
      for (;;) {
        checkLeading(ctx.signal);
        if (cluster !== null && !this.rt.world.cluster(cluster)) return;
        try {
          if (cluster === null) await this.scanMetadata(links, ctx);
          else await this.scanCluster(cluster, links, ctx);
        } catch (e) {
          checkLeading(ctx.signal);
          ctx.log.warn({ err: e }, 'XA scan failed; next scan retries');
        }
        await sleepWhileLeading(this.s.scanMs, ctx.signal);
      }
    } finally {
      await links.close();
    }
  }

  private async scanCluster(id: number, links: Links, ctx: LeaderContext): Promise<void> {
    const world = this.rt.world;
    const cl = world.cluster(id);
    if (!cl) return;
    const txns = new Map<string, Txn>();
    const shards = world.shardsOf(id);
    let allScanned = shards.length > 0;
    for (const shardId of shards) {
      const sh = world.shard(shardId);
      const nv = sh?.primary != null ? world.node(sh.primary) : null;
      if (!sh || !nv || sh.ha !== 'normal') {
        allScanned = false;
        continue;
      }
      const node = links.node(nv.id, nv.hostaddr, nv.port);
      let xids: string[];
      try {
        xids = await node.run(recoverBranches, { signal: ctx.signal, deadlineMs: this.s.statementMs });
      } catch (e) {
        checkLeading(ctx.signal);
        allScanned = false;
        ctx.log.warn({ shard: shardId, node: nv.id, err: e }, 'XA RECOVER failed on the shard primary');
        continue;
      }
      const since = this.seen.observe(`shard/${shardId}`, xids, performance.now());
      for (const xid of xids) {
        const x = parseXid(xid);
        if (!x) continue; // Not a KunlunBase global transaction: not ours to end.
        const k = `${x.compNodeId}|${x.startTs}|${x.localXid}`;
        const t = txns.get(k) ?? { x, xid, key: commitLogKey(x), branches: [], seenSince: 0 };
        t.branches.push({ shard: shardId, node });
        t.seenSince = Math.max(t.seenSince, since.get(xid)!);
        txns.set(k, t);
      }
    }
    const pruneDue = performance.now() - (this.lastPrune.get(id) ?? -Infinity) >= this.s.pruneEveryMs;
    if (txns.size === 0 && !pruneDue) return;
    // One metadata session per transaction: its deadline covers that transaction's steps only.
    for (const t of txns.values()) {
      checkLeading(ctx.signal);
      // Under 2PC load most listed branches are in flight and gone by the next scan: no lookup for them.
      if (performance.now() - t.seenSince < this.s.windows.settleMs) continue;
      await links.meta.use(ctx.signal, async (meta) => {
        const stored = await readDecision(meta, cl.name, t.key);
        let a = decideBranch(
          { on: 'storage', stored, seenForMs: performance.now() - t.seenSince, sinceStartMs: Date.now() - t.x.startTs * 1000 },
          this.s.windows,
        );
        const log = ctx.log.child({ cluster: id, xid: t.xid, comp_node_id: t.x.compNodeId, txn_id: t.key.txnId.toString() });
        if (a.do === 'claim-abort') {
          checkLeading(ctx.signal);
          const r = await claimAbort(meta, cl.name, t.key, ctx.term);
          a = afterClaim(r);
          log.info({ claimed: r.claimed, next: a.do, why: a.why }, r.claimed ? 'XA: abort claimed in the commit log' : 'XA: abort claim not stored');
        }
        await this.end(a, t.xid, t.branches, log, ctx);
      });
    }
    if (pruneDue) {
      const keep = [...txns.values()].map((t) => t.key);
      await links.meta.use(ctx.signal, (meta) => this.prune(id, cl.name, allScanned, keep, meta, ctx));
    }
  }

  private async end(a: Action, xid: string, branches: Txn['branches'], log: Logger, ctx: LeaderContext): Promise<void> {
    if (a.do !== 'commit' && a.do !== 'rollback') {
      log.debug({ why: a.why }, 'XA: branch left prepared for now');
      return;
    }
    const how = a.do;
    for (const b of branches) {
      checkLeading(ctx.signal);
      const r = await b.node.run((sql) => endBranch(sql, xid, how), { signal: ctx.signal, deadlineMs: this.s.statementMs });
      const fields = { shard: b.shard, node: b.node.id, decision: how, why: a.why, result: r };
      if (r === 'ended') {
        log.info(fields, `XA: branch ${how === 'commit' ? 'committed' : 'rolled back'}`);
        continue;
      }
      // A branch a live session owns is refused at every scan: say so once, then only at debug.
      const k = `${b.shard}|${xid}`;
      const first = !this.refused.has(k);
      if (this.refused.size >= 10_000) this.refused.clear(); // bounded memory; at worst a line is repeated
      this.refused.add(k);
      log[first ? 'info' : 'debug'](fields, 'XA: branch not ended (already ended, or a live session owns it)');
    }
  }

  private async prune(id: number, cluster: string, allScanned: boolean, keep: CommitLogKey[], meta: Parameters<typeof readDecision>[0], ctx: LeaderContext): Promise<void> {
    const bound = pruneBound({ nowSec: Date.now() / 1000, retentionSec: this.s.retentionSec, allShardsScanned: allScanned });
    if ('skip' in bound) {
      ctx.log.debug({ cluster: id, why: bound.skip }, 'commit log not pruned this scan');
      return;
    }
    // Counted from the attempt: a failing prune (say, the table is missing) is retried next interval.
    this.lastPrune.set(id, performance.now());
    const deleted = await pruneCommitLog(meta, cluster, {
      belowTxnId: bound.belowTxnId,
      minAgeSec: this.s.retentionSec,
      keep,
      beforeBatch: () => checkLeading(ctx.signal),
    });
    const fields = { cluster: id, deleted, below_txn_id: bound.belowTxnId.toString(), kept_for_prepared: keep.length };
    ctx.log[deleted > 0 ? 'info' : 'debug'](fields, 'commit log pruned');
  }

  /** The metadata shard's own prepared branches: compute-node DDL 2PC (§6.3 point 4). */
  private async scanMetadata(links: Links, ctx: LeaderContext): Promise<void> {
    await links.meta.use(ctx.signal, async (meta) => {
      const xids = await xaRecover(meta);
      const since = this.seen.observe('metadata', xids, performance.now());
      for (const xid of xids) {
        const x = parseXid(xid);
        if (!x || performance.now() - since.get(xid)! < this.s.windows.settleMs) continue;
        checkLeading(ctx.signal);
        // A row in the compute node's cluster's commit log is followed; none is expected for DDL.
        const comp = this.rt.world.comp(x.compNodeId);
        const cl = comp ? this.rt.world.cluster(comp.cluster) : null;
        const stored = cl ? await readDecision(meta, cl.name, commitLogKey(x)).catch(() => null) : null;
        const a = decideBranch(
          { on: 'metadata', stored, seenForMs: performance.now() - since.get(xid)!, sinceStartMs: Date.now() - x.startTs * 1000 },
          this.s.windows,
        );
        const log = ctx.log.child({ metadata_shard: true, xid, comp_node_id: x.compNodeId });
        if (a.do !== 'commit' && a.do !== 'rollback') {
          log.debug({ why: a.why }, 'XA: metadata branch left prepared for now');
          continue;
        }
        const r = await endBranch(sqlOf(meta), xid, a.do);
        log.info({ decision: a.do, why: a.why, result: r }, r === 'ended' ? `XA: metadata branch ${a.do === 'commit' ? 'committed' : 'rolled back'}` : 'XA: metadata branch not ended (already ended, or a live session owns it)');
      }
    });
  }
}
