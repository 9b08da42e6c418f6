// A compute node's two-phase commit, emulated for XA tests: XA START/END/PREPARE on every written
// shard, then the decision row in commit_log_<cluster> (written as the real CN writes it: NULL, and so
// rejected by the NOT NULL column, once its deadline passed), then XA COMMIT everywhere. Crash points
// stop between the steps by dropping the storage connections, which leaves the prepared branches
// detached for the cluster manager to resolve, as a crashed or disconnected CN does.
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { Credentials, Endpoint } from '../../src/storage-node/replication.js';
import { commitLogTxnId, formatXid } from '../../src/storage-node/xa.js';

export type CrashPoint = 'after-prepare' | 'after-commit-log' | 'after-first-commit';

export interface NodeAccess extends Endpoint, Credentials {}

export interface TwoPhaseOptions {
  compNodeId: number;
  /** Cluster name: the commit log is `<metadataDb>.commit_log_<cluster>`. */
  cluster: string;
  shards: NodeAccess[];
  metadata: NodeAccess;
  metadataDb?: string;
  /** The CN's global_txn_commit_log_wait_max_secs. Default 10. */
  commitLogWaitMaxSec?: number;
  connectTimeoutMs?: number;
}

export interface TxnWrite {
  /** Index into `shards`. */
  shard: number;
  sql: string;
  params?: unknown[];
}

export interface TxnSpec {
  /** Unix seconds when the global transaction started. */
  startTs: number;
  localXid: number;
  writes: TxnWrite[];
}

export type TxnResult =
  | 'committed'
  | 'crashed'
  | 'prepare-failed'
  | 'commit-log-timeout'
  | 'commit-log-error'
  | 'ended-by-manager'
  | 'commit-failed';

export interface TxnOutcome {
  xid: string;
  /** Commit-log txn_id (decimal string). */
  txnId: string;
  /** Shard indexes holding a branch. */
  shards: number[];
  result: TxnResult;
  crashedAt?: CrashPoint;
  /** The decision found in the commit log when the CN's own insert collided. */
  decision?: 'commit' | 'abort';
  /** Shards whose branch this client committed. */
  committed: number[];
  error?: string;
}

const NAME = /^[A-Za-z0-9_]{1,64}$/;

function errno(e: unknown): number | null {
  const n = (e as { errno?: unknown }).errno;
  return typeof n === 'number' ? n : null;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class TwoPhaseClient {
  readonly commitLog: string;
  private readonly waitMaxSec: number;

  constructor(private readonly o: TwoPhaseOptions) {
    if (!NAME.test(o.cluster)) throw new RangeError(`cluster must match ${NAME.source}, got "${o.cluster}"`);
    const db = o.metadataDb ?? 'kunlun_metadata_db';
    if (!NAME.test(db)) throw new RangeError(`metadataDb must match ${NAME.source}, got "${db}"`);
    if (!Number.isInteger(o.compNodeId) || o.compNodeId < 0) throw new RangeError(`compNodeId must be a non-negative integer`);
    this.commitLog = `${db}.commit_log_${o.cluster}`;
    this.waitMaxSec = o.commitLogWaitMaxSec ?? 10;
  }

  xidOf(t: Pick<TxnSpec, 'startTs' | 'localXid'>): string {
    return formatXid({ compNodeId: this.o.compNodeId, startTs: t.startTs, localXid: t.localXid });
  }

  /** Runs the whole protocol, or stops at `crashAt`. */
  async run(t: TxnSpec, crashAt?: CrashPoint): Promise<TxnOutcome> {
    const xid = this.xidOf(t);
    const shards = [...new Set(t.writes.map((w) => w.shard))].sort((a, b) => a - b);
    for (const s of shards) if (!this.o.shards[s]) throw new RangeError(`write names shard ${s}, which does not exist`);
    const out: TxnOutcome = { xid, txnId: commitLogTxnId(t), shards, result: 'committed', committed: [] };
    const conns = new Map<number, Connection>();
    const dropAll = (): void => {
      for (const c of conns.values()) c.destroy();
      conns.clear();
    };
    // A crashed CN's prepared branches stay attached to its server sessions until the server has
    // noticed the disconnect; until then another session's XA COMMIT answers XAER_NOTA. The caller
    // plays the manager next, so wait for the sessions to end as a real resolver's later round would.
    const crash = async (at: CrashPoint): Promise<TxnOutcome> => {
      const sessions = [...conns].map(([s, c]) => ({ shard: s, id: c.threadId }));
      dropAll();
      for (const { shard, id } of sessions) if (id !== null) await this.awaitSessionGone(this.o.shards[shard]!, id);
      return { ...out, result: 'crashed', crashedAt: at };
    };
    // Phase 1.
    const prepared: number[] = [];
    try {
      for (const s of shards) {
        const c = await this.connect(this.o.shards[s]!);
        conns.set(s, c);
        await c.query('XA START ?', [xid]);
        for (const w of t.writes.filter((x) => x.shard === s)) await c.query(w.sql, w.params ?? []);
        await c.query('XA END ?', [xid]);
        await c.query('XA PREPARE ?', [xid]);
        prepared.push(s);
      }
    } catch (e) {
      // Before any decision the CN may roll back what it prepared itself.
      for (const [s, c] of conns) {
        await c.query(prepared.includes(s) ? 'XA ROLLBACK ?' : 'XA END ?', [xid]).catch(() => undefined);
        if (!prepared.includes(s)) await c.query('XA ROLLBACK ?', [xid]).catch(() => undefined);
      }
      dropAll();
      return { ...out, result: 'prepare-failed', error: message(e) };
    }
    if (crashAt === 'after-prepare') {
      return crash(crashAt);
    }
    // The decision.
    const logged = await this.writeCommitLog(t, shards, Math.floor(Date.now() / 1000) + this.waitMaxSec);
    if (logged.result !== 'ok') {
      dropAll();
      return { ...out, ...logged.outcome };
    }
    if (crashAt === 'after-commit-log') {
      return crash(crashAt);
    }
    // Phase 2.
    for (const s of shards) {
      try {
        await conns.get(s)!.query('XA COMMIT ?', [xid]);
        out.committed.push(s);
      } catch (e) {
        dropAll();
        return { ...out, result: 'commit-failed', error: message(e) };
      }
      if (crashAt === 'after-first-commit') {
        return crash(crashAt);
      }
    }
    dropAll();
    return out;
  }

  /**
   * A CN that lost its storage connections after prepare and now tries to finish: the commit-log row
   * first (it fails if the manager already claimed an abort), then XA COMMIT of the detached branches
   * from new connections. `deadlineUnixSec` is when the CN's wait for the commit log ends.
   */
  async lateCommit(t: TxnSpec, deadlineUnixSec = Math.floor(Date.now() / 1000) + this.waitMaxSec): Promise<TxnOutcome> {
    const xid = this.xidOf(t);
    const shards = [...new Set(t.writes.map((w) => w.shard))].sort((a, b) => a - b);
    const out: TxnOutcome = { xid, txnId: commitLogTxnId(t), shards, result: 'committed', committed: [] };
    const logged = await this.writeCommitLog(t, shards, deadlineUnixSec);
    if (logged.result !== 'ok') return { ...out, ...logged.outcome };
    for (const s of shards) {
      const c = await this.connect(this.o.shards[s]!);
      try {
        await c.query('XA COMMIT ?', [xid]);
        out.committed.push(s);
      } catch (e) {
        return { ...out, result: 'commit-failed', error: `shard ${s}: ${message(e)}` };
      } finally {
        c.destroy();
      }
    }
    return out;
  }

  /** Waits until the server has ended session `id` (its prepared branch is then detached). */
  private async awaitSessionGone(n: NodeAccess, id: number): Promise<void> {
    const c = await this.connect(n);
    try {
      for (let i = 0; i < 200; i++) {
        const [rows] = await c.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID = ?', [id]);
        if (Number(rows[0]!.n) === 0) return;
        await sleep(50);
      }
      throw new Error(`session ${id} on ${n.host}:${n.port} still open 10 s after its client went away`);
    } finally {
      c.destroy();
    }
  }

  /** The stored decision for a transaction, or null. */
  async readDecision(t: Pick<TxnSpec, 'startTs' | 'localXid'>): Promise<'commit' | 'abort' | null> {
    const c = await this.connect(this.o.metadata);
    try {
      const [rows] = await c.query<RowDataPacket[]>('SELECT next_txn_cmd FROM ?? WHERE comp_node_id = ? AND txn_id = ?', [
        this.commitLog,
        this.o.compNodeId,
        commitLogTxnId(t),
      ]);
      const v = rows[0]?.next_txn_cmd as string | undefined;
      return v === 'commit' || v === 'abort' ? v : null;
    } finally {
      c.destroy();
    }
  }

  private async writeCommitLog(
    t: TxnSpec,
    shards: number[],
    deadlineUnixSec: number,
  ): Promise<{ result: 'ok' } | { result: 'failed'; outcome: Partial<TxnOutcome> & { result: TxnResult } }> {
    const c = await this.connect(this.o.metadata);
    try {
      // As the CN writes it: past the deadline the value is NULL and the NOT NULL column rejects it,
      // so no commit decision can appear after the CN gave up waiting.
      await c.query(
        "INSERT INTO ?? (comp_node_id, txn_id, next_txn_cmd, written_shards) VALUES (?, ?, IF(UNIX_TIMESTAMP() > ?, NULL, 'commit'), ?)",
        [this.commitLog, this.o.compNodeId, commitLogTxnId(t), deadlineUnixSec, JSON.stringify(shards)],
      );
      return { result: 'ok' };
    } catch (e) {
      if (errno(e) === 1062) {
        const decision = await this.readDecision(t);
        if (decision === 'commit') return { result: 'ok' };
        return { result: 'failed', outcome: { result: 'ended-by-manager', decision: decision ?? 'abort', error: message(e) } };
      }
      if (errno(e) === 1048) return { result: 'failed', outcome: { result: 'commit-log-timeout', error: message(e) } };
      return { result: 'failed', outcome: { result: 'commit-log-error', error: message(e) } };
    } finally {
      c.destroy();
    }
  }

  private async connect(n: NodeAccess): Promise<Connection> {
    const c = await mysql.createConnection({
      host: n.host,
      port: n.port,
      user: n.user,
      password: n.password,
      connectTimeout: this.o.connectTimeoutMs ?? 2_000,
      supportBigNumbers: true,
      bigNumberStrings: true,
    });
    c.on('error', () => undefined);
    return c;
  }
}
