// The leader keeps kunlun_metadata_db matching the world, exactly once per log position: it creates
// the schema on a fresh metadata shard, adopts a topology that other tools made there, and projects
// every change (projectTopology stores the applied index and the term in the same transaction, so a
// restart or a new leader neither skips nor repeats, and an old leader's late write is refused).
// A row the metadata shard cannot take is left out and everything else still projected: the leader
// logs it (once per change), proposes it to the log (manager.projection_row_failed / _cleared, so the
// view shows it on every member), and tries that row alone again every metadata_retry_interval_ms.
// A pass the metadata node does not finish (its primary waiting for a semi-sync ACK that no replica
// sends holds the commit until one does) keeps waiting, which is safe, but is not silent: after
// metadata_stall_warn_ms it is logged with the server's own reason for the wait.
import type { Connection } from 'mysql2/promise';
import { connectWritableMeta, metaConnectOptions, metaSessionState, type MetaSessionState } from '../metadata/connect.js';
import {
  createSchema,
  ensureLogTablesFor,
  ENTITY_MAPS,
  projectTopology,
  readTopology,
  StaleTermError,
  type FailedRow,
  type ProjectionResult,
  type Topology,
} from '../metadata/index.js';
import type { ConfigReader, Proposer, WorldReader } from '../ports/index.js';
import { checkLeading, type LeaderContext, type Reconciler, type ReconcilerHost } from '../reconcile/host.js';
import { adoptionCommand } from './adoption.js';
import { desiredTopology } from './desired-topology.js';

/** What the projection uses of the member (ManagerRuntime implements it): a follower reports the
 *  failed rows the log recorded, and rows that failed are retried alone later. */
export interface ProjectionRuntime extends WorldReader, ConfigReader, Proposer {
  readonly isLeader: boolean;
  readonly host: Pick<ReconcilerHost, 'later'>;
}

export class MetadataReconciler implements Reconciler {
  readonly name = 'metadata';
  private conn: Connection | null = null;
  private schemaReadyTerm = 0;
  private adoptedTerm = 0;
  lastProjected = { index: 0, term: 0 };
  /** What this member's last projection left out, and that list as text (to log once per change). */
  private failed: readonly FailedRow[] = [];
  private failedText = '[]';

  constructor(private readonly rt: ProjectionRuntime) {}

  keys(): string[] {
    return this.rt.cfg.metaSeeds.length > 0 ? ['metadata'] : [];
  }

  affected(changed: ReadonlySet<string>): string[] {
    return changed.size > 0 ? this.keys() : [];
  }

  async reconcile(_key: string, ctx: LeaderContext): Promise<void> {
    const c = await this.connection(ctx);
    const watch = this.watchStall(c, ctx);
    try {
      if (this.schemaReadyTerm !== ctx.term) {
        const r = await createSchema(c);
        if (r.created.length > 0) ctx.log.info({ created: r.created, origin: r.origin }, 'metadata schema created');
        this.schemaReadyTerm = ctx.term;
      }
      checkLeading(ctx.signal);
      const read = await readTopology(c, { jobs: 'none' });
      if (this.adoptedTerm !== ctx.term) {
        // Clusters with ids the manager never handed out were made by other tools: adopt them.
        const world = this.rt.world;
        const next = world.next;
        // Below the counter, a cluster missing from the world was deleted by the manager: not adopted.
        const cmd = adoptionCommand(
          { ...read.topology, clusters: read.topology.clusters.filter((cl) => cl.id >= next.cluster) },
          { cluster: (id) => world.cluster(id), machine: (h) => world.machine(h) },
          ctx.term,
        );
        if (cmd) {
          const r = await this.rt.execute(cmd, { system: 'adopting the topology found in kunlun_metadata_db' });
          if (!r.ok) throw new Error(`adoption refused: ${JSON.stringify(r)}`);
          ctx.log.info({ clusters: cmd.clusters.map((x) => x.id), machines: cmd.machines?.length ?? 0 }, 'adopted the topology found in the metadata shard');
          for (const w of read.warnings) ctx.log.warn({ warning: w }, 'metadata adoption warning');
          return; // The applied adoption triggers the projection.
        }
        // Adopted, or nothing to adopt: ids used by rows the log does not know (old jobs, deleted
        // clusters' rows) must never be handed out again, so raise the counters above them.
        const n = read.nextIds;
        const r = await this.rt.execute(
          {
            kind: 'manager.reserve_ids',
            id: this.rt.cfg.selfId,
            next: { cluster: n.clusters, shard: n.shards, node: n.storageNodes, comp: n.computeNodes, job: n.jobs },
          },
          { system: 'ids in use in kunlun_metadata_db' },
        );
        if (!r.ok && !(r.kind === 'refused' && r.refusal.code === 'no_change')) throw new Error(`reserving ids failed: ${JSON.stringify(r)}`);
        checkLeading(ctx.signal);
        this.adoptedTerm = ctx.term;
      }
      checkLeading(ctx.signal);
      const world = this.rt.world;
      const index = world.applied;
      const secrets = {
        comp: (id: number) => world.clusterSecret(id),
        storage: { user: this.rt.cfg.str('meta_user'), password: this.rt.cfg.str('meta_pwd') },
      };
      const desired = desiredTopology(world.view(), read.topology, secrets, Date.now());
      await ensureLogTablesFor(c, desired);
      checkLeading(ctx.signal);
      // Rows reported failing are tried again even when nothing else changed since the last pass.
      const retry = [...world.projectionFailures, ...this.failed];
      const res = await projectTopology(c, desired, { index, term: ctx.term }, { log: ctx.log, retry });
      this.lastProjected = { index, term: ctx.term };
      if (res.status !== 'skipped') await this.report(res, desired, ctx);
      if (res.status === 'applied') {
        const changed = Object.fromEntries(Object.entries(res.changes).filter(([, v]) => v.inserted + v.updated + v.deleted > 0));
        if (Object.keys(changed).length > 0) ctx.log.info({ index, changes: changed }, 'metadata projected');
      }
    } catch (e) {
      if (e instanceof StaleTermError) {
        ctx.log.warn({ err: e }, 'a newer leader has written the metadata; this member stops projecting');
        return;
      }
      // A broken connection is replaced on the next try.
      await this.drop();
      throw e;
    } finally {
      watch.stop();
    }
  }

  /**
   * Logs a pass the metadata node has not finished after metadata_stall_warn_ms, with what the server
   * says the session waits for, and when it goes on. When leadership is lost meanwhile the connection
   * is dropped (the transaction rolls back, or its commit completes on the server), so this member's
   * next term does not queue behind the waiting statement.
   */
  private watchStall(c: Connection, ctx: LeaderContext): { stop(): void } {
    const t0 = performance.now();
    let stalled = false;
    const timer = setTimeout(() => {
      stalled = true;
      void this.reportStall(c, ctx, Math.round(performance.now() - t0));
    }, this.rt.cfg.int('metadata_stall_warn_ms'));
    timer.unref();
    const onAbort = (): void => {
      if (this.conn !== c) return;
      this.conn = null;
      c.destroy();
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    return {
      stop: () => {
        clearTimeout(timer);
        ctx.signal.removeEventListener('abort', onAbort);
        if (stalled) ctx.log.info({ waited_ms: Math.round(performance.now() - t0) }, 'metadata projection pass ended after a stall');
      },
    };
  }

  private async reportStall(c: Connection, ctx: LeaderContext, waitedMs: number): Promise<void> {
    const node = { host: String(c.config.host), port: Number(c.config.port) };
    let session: MetaSessionState | null | string;
    try {
      session = await metaSessionState(node, metaConnectOptions(this.rt.cfg), c.threadId);
    } catch (e) {
      session = `the node does not answer: ${(e as Error).message}`;
    }
    if (ctx.signal.aborted) return;
    ctx.log.warn(
      { node: `${node.host}:${node.port}`, waited_ms: waitedMs, session },
      'metadata projection stalled: the metadata node has not finished the write; still waiting (a primary whose semi-sync replicas are all gone waits until one acknowledges)',
    );
  }

  /** The rows of kunlun_metadata_db the projection cannot write: this leader's last pass, else the log's. */
  failedRows(): readonly FailedRow[] {
    if (this.rt.isLeader) return this.failed;
    return this.rt.world.projectionFailures.map(({ table, key, reason }) => ({ table, key, reason }));
  }

  /** Logs a change of the failing rows, proposes it, and schedules the retry while any row fails. */
  private async report(res: ProjectionResult, desired: Topology, ctx: LeaderContext): Promise<void> {
    const failed = res.failed;
    const text = JSON.stringify(failed);
    if (text !== this.failedText) {
      // Reasons name the column or key, never the value; row contents (passwords) are not logged.
      if (failed.length > 0) ctx.log.warn({ rows: failed }, `${failed.length} metadata row(s) cannot be written; left as they are, everything else projected`);
      else ctx.log.info({ cleared: this.failed.map(({ table, key }) => ({ table, key })) }, 'every metadata row is written again');
      this.failedText = text;
    }
    this.failed = failed;
    if (failed.length > 0) this.rt.host.later(this, 'metadata', this.rt.cfg.int('metadata_retry_interval_ms'));
    const world = this.rt.world;
    const reported = world.projectionFailures;
    const same = reported.length === failed.length && failed.every((f) => reported.some((r) => r.table === f.table && r.key === f.key && r.reason === f.reason));
    if (same) return;
    checkLeading(ctx.signal);
    const gone = reported.filter((r) => !wanted(desired, r)).map(({ table, key }) => ({ table, key }));
    const r = await this.rt.execute(
      { kind: 'manager.report_projection', id: this.rt.cfg.selfId, failed, gone },
      { system: 'metadata projection' },
    );
    if (!r.ok && !(r.kind === 'refused' && r.refusal.code === 'no_change')) ctx.log.warn({ result: r }, 'reporting the failing metadata rows failed; next pass tries again');
  }

  private async connection(ctx: LeaderContext): Promise<Connection> {
    if (this.conn) return this.conn;
    checkLeading(ctx.signal);
    const c = await connectWritableMeta(metaConnectOptions(this.rt.cfg), ctx.signal);
    // A broken connection is replaced on the next pass.
    c.on('error', () => void this.drop());
    this.conn = c;
    return c;
  }

  async drop(): Promise<void> {
    const c = this.conn;
    this.conn = null;
    if (c) await c.end().catch(() => c.destroy());
  }
}

/** Whether the topology still has the row (a failing row that is no longer wanted is gone, not written). */
function wanted(t: Topology, row: { table: string; key: string }): boolean {
  const m = ENTITY_MAPS.find((x) => x.table === row.table);
  return m !== undefined && t[m.kind].some((x) => String(x.id) === row.key);
}
