// expand_cluster (cluster_mgr-api.md §3.10): moves tables from one shard of a cluster to another while
// they are written. The steps, on the shards' current primaries:
//   prepare        check the tables (on the source, with a primary key; not on the destination), start
//                  change capture on the source (storage-node/table-capture.ts)
//   dump_table     create the tables on the destination, copy them in key chunks on parallel connections
//   catchup_table  replay the captured changes until few are left
//   rename_table   compare every chunk of both sides while writes go on (a pre-check), replay, rename
//                  the source tables away (<table>_moved_<job>): from here writes to the old place
//                  fail, they never silently succeed; replay what is left and compare, by key, the
//                  rows written since the pre-check began
//   verify_table   compare row counts and checksums of the chunks that differed at the pre-check
//                  (all chunks when the rename step did no pre-check)
//   reroute_table  record the new shard on every compute node (compute/table-placement.ts)
//   cleanup        drop the capture, and the old tables with drop_old_table=1
// A failure before reroute_table undoes everything (the source tables get their names back, the
// destination copies are dropped): the source is as it was. Each step checks the real world first, so
// a new leader reruns an interrupted step. table_move_jobs.status follows with the original's stage names.
import mysql, { type Connection, type Pool, type RowDataPacket } from 'mysql2/promise';
import type { JobView } from '../../actors/index.js';
import { withComp } from '../../compute/connect.js';
import { setTableShard } from '../../compute/table-placement.js';
import type { Json } from '../../events/schema.js';
import { connectWritableMeta, metaConnectOptions } from '../../metadata/connect.js';
import { DEFAULT_DATABASE, qst } from '../../metadata/ident.js';
import { upsertTableMove, type MoveStage } from '../../metadata/table-move-jobs.js';
import { checkLeading } from '../../reconcile/host.js';
import { dropCapture, ensureCapture, pendingChanges, pendingKeys, replayChanges, type KeysSeen } from '../../storage-node/table-capture.js';
import { chunkIndexOf, chunkSum, inChunk, chunksOf, copyChunk, emptyTable, inParallel, keysSum, type Chunk, type ChunkSum } from '../../storage-node/table-copy.js';
import { copyDefinition, describeTable, largestTables, parseTableName, storageDb, tableExists, type TableRef, type TableShape } from '../../storage-node/table-shape.js';
import { JOB_INTERNAL_ERROR, JobError, type JobContext } from '../engine.js';
import { connectNode, storageAccount } from '../shard-install.js';
import { num, obj, req, strList, type Obj } from './request.js';

export const EXPAND_STEPS = ['prepare', 'dump_table', 'catchup_table', 'rename_table', 'verify_table', 'reroute_table', 'cleanup'] as const;
const [PREPARE, DUMP, CATCHUP, RENAME, VERIFY, REROUTE, CLEANUP] = EXPAND_STEPS;

/** A table the request names (or the source's largest) that cannot be moved. */
export const E_EXPAND_TABLE = 70005;

/** The stage each finished step reaches, in the original's words (dump, transfer and load are one streamed step here). */
const STAGE_AFTER: Readonly<Record<string, MoveStage>> = {
  [DUMP]: 'loaded',
  [CATCHUP]: 'caught_up',
  [RENAME]: 'renamed',
  [VERIFY]: 'renamed',
  [REROUTE]: 'rerouted',
  [CLEANUP]: 'rerouted',
};

/** The move's stage as table_move_jobs.status and get_status show it. */
export function moveStage(job: JobView): MoveStage {
  if (job.status === 'done') return 'done';
  if (job.status === 'failed') return 'failed';
  let stage: MoveStage = 'not_started';
  for (const s of job.steps) if (s.ok && STAGE_AFTER[s.step] !== undefined) stage = STAGE_AFTER[s.step]!;
  return stage;
}

/** Chunks copied (and checked) at once, each on its own connection to either side. */
const PARALLEL = 4;
/** Rows per chunk. */
const CHUNK_ROWS = 20_000;
/** The catch-up ends when fewer entries than this are left: the rest is replayed after the rename. */
const CATCHUP_LEFT = 500;
const REPORT_MS = 5_000;

/** What the value types of a move must keep: dates as text, big integers exact. */
const EXACT = { dateStrings: true, supportBigNumbers: true, bigNumberStrings: true } as const;

export const movedName = (table: string, move: number): string => `${table}_moved_${move}`;

interface Move {
  id: number;
  cluster: number;
  src: number;
  dst: number;
  drop: boolean;
}

function moveOf(ctx: JobContext): Move {
  const r = req(ctx);
  return { id: ctx.job.id, cluster: num(r, 'cluster_id'), src: num(r, 'src_shard_id'), dst: num(r, 'dst_shard_id'), drop: num(r, 'drop_old_table') === 1 };
}

function primaryNode(ctx: JobContext, shard: number): { hostaddr: string; port: number } {
  const p = ctx.world.primaryOf(shard);
  const n = p === null ? null : ctx.world.node(p);
  if (n === null) throw new Error(`shard ${shard} has no primary at the moment`);
  return n;
}

async function withPrimaries<T>(ctx: JobContext, m: Move, fn: (s: Connection, d: Connection) => Promise<T>): Promise<T> {
  const s = await connectNode(ctx, primaryNode(ctx, m.src), EXACT);
  try {
    const d = await connectNode(ctx, primaryNode(ctx, m.dst), EXACT);
    try {
      return await fn(s, d);
    } finally {
      await d.end().catch(() => undefined);
    }
  } finally {
    await s.end().catch(() => undefined);
  }
}

function poolOf(ctx: JobContext, shard: number): Pool {
  const n = primaryNode(ctx, shard);
  const a = storageAccount(ctx);
  return mysql.createPool({ ...EXACT, host: n.hostaddr, port: n.port, user: a.user, password: a.password, connectionLimit: PARALLEL, connectTimeout: ctx.cfg.int('mysql_connect_timeout') * 1000 });
}

/**
 * Runs `fn` on every chunk of the tables (chunked as `chunkSide` has them, or the chunks `only` lists
 * per table), PARALLEL at a time, with a pool of connections to each primary; the pools are closed
 * afterwards. `fn` gets the table's index and the chunk's index among the table's chunks.
 */
async function overChunks(
  ctx: JobContext,
  m: Move,
  found: readonly TableShape[],
  chunkSide: 'src' | 'dst',
  fn: (sp: Pool, dp: Pool, s: TableShape, ch: Chunk, t: number, ci: number) => Promise<void>,
  only?: readonly (readonly Chunk[])[],
): Promise<void> {
  const sp = poolOf(ctx, m.src);
  const dp = poolOf(ctx, m.dst);
  try {
    const work: { s: TableShape; ch: Chunk; t: number; ci: number }[] = [];
    for (const [t, sh] of found.entries()) {
      const chunks = only?.[t] ?? (await chunksOf(chunkSide === 'src' ? sp : dp, sh, CHUNK_ROWS));
      for (const [ci, ch] of chunks.entries()) work.push({ s: sh, ch, t, ci });
    }
    await inParallel(work, PARALLEL, ({ s, ch, t, ci }) => fn(sp, dp, s, ch, t, ci), ctx.signal);
  } finally {
    await Promise.all([sp.end(), dp.end()]).catch(() => undefined);
  }
}

/** Writes the move's table_move_jobs row (nothing without a metadata shard). */
async function writeRow(ctx: JobContext, m: Move, stage: MoveStage, extra: { tables?: string[]; binlogFile?: string | null; binlogPos?: number | null; memo?: Record<string, unknown> } = {}): Promise<void> {
  if (ctx.cfg.metaSeeds.length === 0) return;
  const c = await connectWritableMeta({ ...metaConnectOptions(ctx.cfg), connection: { database: DEFAULT_DATABASE } }, ctx.signal);
  try {
    const tables = extra.tables ?? tablesOf(ctx);
    await upsertTableMove(c, {
      id: m.id,
      tableList: tables.join(','),
      srcShard: m.src,
      destShard: m.dst,
      status: stage,
      binlogFile: extra.binlogFile ?? prepared(ctx)?.binlog_file ?? null,
      binlogOffset: extra.binlogPos ?? prepared(ctx)?.binlog_pos ?? null,
      memo: JSON.stringify({ stage, ...extra.memo }),
      ended: stage === 'done' || stage === 'failed',
    });
  } finally {
    await c.end().catch(() => undefined);
  }
}

interface Prepared {
  tables: string[];
  binlog_file: string | null;
  binlog_pos: number | null;
  gtid: string;
}

/** The prepare step's result, once it has finished. */
function prepared(ctx: JobContext): Prepared | null {
  const s = ctx.job.steps.find((x) => x.step === PREPARE && x.ok);
  return s === undefined ? null : (JSON.parse(s.info) as Prepared);
}

function tablesOf(ctx: JobContext): string[] {
  return prepared(ctx)?.tables ?? strList(req(ctx), 'table_list');
}

const refsOf = (ctx: JobContext): TableRef[] => tablesOf(ctx).map(parseTableName);

/** The shapes of the move's tables as `c` has them, each under the name `nameOf` gives. */
async function shapes(c: Connection, refs: readonly TableRef[], nameOf: (t: string) => string = (t) => t): Promise<TableShape[]> {
  const out: TableShape[] = [];
  for (const r of refs) {
    const s = await describeTable(c, storageDb(r), nameOf(r.table));
    if (s === null) throw new JobError(JOB_INTERNAL_ERROR, `table ${storageDb(r)}.${nameOf(r.table)} is gone`);
    out.push({ ...s, table: r.table });
  }
  return out;
}

async function isRenamed(s: Connection, refs: readonly TableRef[], move: number): Promise<boolean> {
  for (const r of refs) if (!(await tableExists(s, storageDb(r), movedName(r.table, move)))) return false;
  return true;
}

async function prepare(ctx: JobContext, m: Move): Promise<Prepared> {
  return withPrimaries(ctx, m, async (s, d) => {
    let list = strList(req(ctx), 'table_list');
    if (list.length === 0) list = await largestTables(s, 3);
    if (list.length === 0) throw new JobError(E_EXPAND_TABLE, `table_list is empty and shard ${m.src} has no table in a db_$$_schema database`);
    const refs = list.map(parseTableName);
    const found: TableShape[] = [];
    for (const r of refs) {
      const db = storageDb(r);
      let shape: TableShape | null;
      try {
        shape = await describeTable(s, db, r.table);
      } catch (e) {
        throw new JobError(E_EXPAND_TABLE, `table_list: ${r.db}.${r.schema}.${r.table}: ${(e as Error).message}`);
      }
      if (shape === null) throw new JobError(E_EXPAND_TABLE, `table_list: ${r.db}.${r.schema}.${r.table} is not on shard ${m.src} (no table ${db}.${r.table})`);
      if (await tableExists(d, db, r.table)) throw new JobError(E_EXPAND_TABLE, `table_list: ${db}.${r.table} already exists on shard ${m.dst}`);
      if (await tableExists(s, db, movedName(r.table, m.id))) throw new JobError(E_EXPAND_TABLE, `table_list: ${db}.${movedName(r.table, m.id)} already exists on shard ${m.src}`);
      found.push(shape);
    }
    await ensureCapture(s, m.id, found);
    // Informative: where the source's binlog was when capture began.
    const [[ms]] = await s.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS gtid');
    const [st] = await s.query<RowDataPacket[]>('SHOW MASTER STATUS');
    const out: Prepared = { tables: list, gtid: String(ms!.gtid), binlog_file: st[0] ? String(st[0].File) : null, binlog_pos: st[0] ? Number(st[0].Position) : null };
    await writeRow(ctx, m, 'not_started', { tables: list, binlogFile: out.binlog_file, binlogPos: out.binlog_pos });
    return out;
  });
}

async function dump(ctx: JobContext, m: Move): Promise<Json> {
  const refs = refsOf(ctx);
  const t0 = Date.now();
  const found = await withPrimaries(ctx, m, async (s, d) => {
    const out = await shapes(s, refs);
    // A rerun starts the copy over: rows the interrupted one left are removed first.
    for (const sh of out) {
      await copyDefinition(s, d, sh.db, sh.table);
      await emptyTable(d, sh);
    }
    return out;
  });
  let rows = 0;
  let lastReport = Date.now();
  await overChunks(ctx, m, found, 'src', async (sp, dp, s, ch) => {
    checkLeading(ctx.signal);
    // Not `rows += await …`: that reads rows before the await and loses the other workers' counts.
    const n = await copyChunk(sp, dp, s, ch);
    rows += n;
    if (Date.now() - lastReport >= REPORT_MS) {
      lastReport = Date.now();
      await ctx.report({ rows, rows_per_s: Math.round(rows / ((Date.now() - t0) / 1000)) });
    }
  });
  const seconds = (Date.now() - t0) / 1000;
  await writeRow(ctx, m, 'loaded', { memo: { rows } });
  return { rows, seconds: +seconds.toFixed(2), rows_per_s: Math.round(rows / Math.max(seconds, 0.001)), parallel: PARALLEL };
}

/** Replays captured changes until fewer than `left` remain (0: until none); `seen` gets the keys replayed. */
async function replayUntil(ctx: JobContext, s: Connection, d: Connection, m: Move, found: TableShape[], nameOf: (i: number) => string, left: number, seen?: KeysSeen): Promise<number> {
  let replayed = 0;
  for (;;) {
    checkLeading(ctx.signal);
    const n = await replayChanges(s, d, m.id, found, nameOf, undefined, seen);
    replayed += n;
    if (n === 0 || (left > 0 && (await pendingChanges(s, m.id)) < left)) return replayed;
  }
}

async function catchup(ctx: JobContext, m: Move): Promise<Json> {
  const refs = refsOf(ctx);
  return withPrimaries(ctx, m, async (s, d) => {
    const found = await shapes(d, refs);
    const replayed = await replayUntil(ctx, s, d, m, found, (i) => found[i]!.table, CATCHUP_LEFT);
    await writeRow(ctx, m, 'caught_up', { memo: { replayed } });
    return { replayed, pending: await pendingChanges(s, m.id) };
  });
}

/** A chunk or set of rows that differs between the sides, for the error. */
function differs(what: string, a: ChunkSum, b: ChunkSum): string | null {
  if (a.rows === b.rows && a.crc === b.crc) return null;
  return `${what}: source ${a.rows} rows crc ${a.crc}, destination ${b.rows} rows crc ${b.crc}`;
}

const chunkName = (s: TableShape, ch: Chunk): string => `${s.db}.${s.table} [${ch.lo ?? 'min'}..${ch.hi ?? 'max'}]`;

/** Keys the rename step compares one by one; past this, their chunks are compared whole. */
const RECHECK_KEYS = 50_000;
/** A step's result is a Raft entry of at most ~1 KB: a longer list of chunks means "compare all". */
const RECHECK_JSON = 600;

/** Compares the rows with these keys on both sides (the source renamed); returns the differences. */
async function compareKeys(s: Connection, d: Connection, found: readonly TableShape[], keys: readonly unknown[][][], move: number): Promise<string[]> {
  const bad: string[] = [];
  for (const [t, sh] of found.entries()) {
    const ks = keys[t] ?? [];
    for (let i = 0; i < ks.length; i += 500) {
      const part = ks.slice(i, i + 500);
      const a = await keysSum(s, sh, movedName(sh.table, move), part);
      const b = await keysSum(d, sh, sh.table, part);
      const diff = differs(`${sh.db}.${sh.table} rows written during the move (${part.length} keys from ${JSON.stringify(part[0])})`, a, b);
      if (diff !== null) bad.push(diff);
    }
  }
  return bad;
}

/**
 * The pre-check, while writes still go on: every chunk of both sides compared (the destination's
 * chunks). The destination does not change meanwhile (only this step's replay writes it); each source
 * chunk is read in a consistent snapshot together with the change log, and the rows the log names then
 * (changed, not replayed yet: the catch-up replays them later, and the check compares them by key)
 * are left out on both sides. So a chunk differs only when the copy or the replay went wrong.
 * Returns the chunks, the destination's rows of each, and per table the indexes of those that differed.
 */
async function precheck(ctx: JobContext, m: Move, found: readonly TableShape[]): Promise<{ chunks: Chunk[][]; rows: number[][]; bad: Set<number>[] }> {
  const chunks: Chunk[][] = found.map(() => []);
  const rows: number[][] = found.map(() => []);
  const bad: Set<number>[] = found.map(() => new Set<number>());
  await overChunks(ctx, m, found, 'dst', async (sp, dp, s, ch, t, ci) => {
    chunks[t]![ci] = ch;
    const sc = await sp.getConnection();
    let a: ChunkSum;
    let pending: unknown[][];
    try {
      // The snapshot must hold over the log read and the checksum.
      await sc.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      await sc.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
      pending = (await pendingKeys(sc, m.id, t)).filter((k) => inChunk(s, ch, k));
      a = await chunkSum(sc, s, s.table, ch, pending);
      await sc.query('COMMIT');
    } finally {
      sc.release();
    }
    const b = await chunkSum(dp, s, s.table, ch, pending);
    rows[t]![ci] = b.rows;
    if (differs('', a, b) !== null) bad[t]!.add(ci);
  });
  return { chunks, rows, bad };
}

/**
 * The rename step's result. With a pre-check: the chunks the verify step must compare (those that
 * differed at the pre-check); the rows the catch-up wrote since the pre-check began were compared by
 * key in the rename step; the rest was equal at the pre-check and nobody wrote it since.
 */
interface Renamed {
  renamed_at: number;
  recheck?: { chunks: Chunk[][]; keys: number; clean_rows: number };
}

async function rename(ctx: JobContext, m: Move): Promise<Renamed> {
  const refs = refsOf(ctx);
  return withPrimaries(ctx, m, async (s, d) => {
    let recheck: Renamed['recheck'];
    let renamedAt = Date.now();
    if (!(await isRenamed(s, refs, m.id))) {
      const found = await shapes(d, refs);
      const pre = await precheck(ctx, m, found);
      const written = found.map(() => new Map<string, unknown[]>());
      const mark: KeysSeen = (t, keys) => {
        for (const k of keys) written[t]!.set(JSON.stringify(k), k);
      };
      // The last changes before the rename keep the pause short.
      await replayUntil(ctx, s, d, m, found, (i) => found[i]!.table, CATCHUP_LEFT / 5, mark);
      checkLeading(ctx.signal);
      // One statement: every table leaves at once. Writers of the old place now get "doesn't exist".
      await s.query(`RENAME TABLE ${refs.map((r) => `${qst(storageDb(r), r.table)} TO ${qst(storageDb(r), movedName(r.table, m.id))}`).join(', ')}`);
      renamedAt = Date.now();
      // The source tables are frozen now: what is left of the log is the last of their changes.
      await replayUntil(ctx, s, d, m, found, (i) => movedName(found[i]!.table, m.id), 0, mark);
      const many = written.reduce((n, w) => n + w.size, 0) > RECHECK_KEYS;
      const keys = written.map((w, t) => [...w.values()].filter((k) => !pre.bad[t]!.has(chunkIndexOf(found[t]!, pre.chunks[t]!, k))));
      // Too many keys for the step's record: their chunks are compared whole instead.
      if (many) keys.forEach((ks, t) => ks.forEach((k) => pre.bad[t]!.add(chunkIndexOf(found[t]!, pre.chunks[t]!, k))));
      // The source is frozen: the rows written since the pre-check began are compared now, by key.
      const diffs = many ? [] : await compareKeys(s, d, found, keys, m.id);
      if (diffs.length > 0) throw new JobError(JOB_INTERNAL_ERROR, `rename_table: ${diffs.length} sets of rows differ: ${diffs.slice(0, 3).join('; ')}`.slice(0, 900));
      recheck = {
        chunks: pre.chunks.map((cs, t) => [...pre.bad[t]!].sort((x, y) => x - y).map((i) => cs[i]!)),
        keys: many ? 0 : keys.reduce((n, ks) => n + ks.length, 0),
        clean_rows: pre.rows.reduce((sum, rs, t) => sum + rs.reduce((a, n, i) => a + (pre.bad[t]!.has(i) ? 0 : n), 0), 0),
      };
      if (JSON.stringify(recheck).length > RECHECK_JSON) recheck = undefined;
    }
    await writeRow(ctx, m, 'renamed');
    // A rerun after the rename did no pre-check: the verify step then compares every chunk.
    return { renamed_at: renamedAt, ...(recheck === undefined ? {} : { recheck }) };
  });
}

async function verify(ctx: JobContext, m: Move): Promise<Json> {
  const refs = refsOf(ctx);
  const t0 = Date.now();
  const r = ctx.job.steps.find((x) => x.step === RENAME && x.ok);
  let re = r === undefined ? undefined : (JSON.parse(r.info) as Renamed).recheck;
  const found = await withPrimaries(ctx, m, async (s, d) => {
    const out = await shapes(d, refs);
    // Normally nothing is left; what is (a rerun) may touch any chunk.
    if ((await replayUntil(ctx, s, d, m, out, (i) => movedName(out[i]!.table, m.id), 0)) > 0) re = undefined;
    return out;
  });
  const bad: string[] = [];
  // Rows covered: those of the chunks not compared again were equal at the pre-check.
  let rows = re?.clean_rows ?? 0;
  let chunks = 0;
  await overChunks(
    ctx,
    m,
    found,
    'dst',
    async (sp, dp, s, ch) => {
      const [a, b] = await Promise.all([chunkSum(sp, s, movedName(s.table, m.id), ch), chunkSum(dp, s, s.table, ch)]);
      chunks++;
      rows += b.rows;
      const diff = differs(chunkName(s, ch), a, b);
      if (diff !== null) bad.push(diff);
    },
    re?.chunks,
  );
  if (bad.length > 0) throw new JobError(JOB_INTERNAL_ERROR, `verify_table: ${bad.length} chunks differ: ${bad.slice(0, 3).join('; ')}`.slice(0, 900));
  return { rows, chunks, keys: re?.keys ?? 0, prechecked: re !== undefined, ms: Date.now() - t0, checksum: 'ok' };
}

async function reroute(ctx: JobContext, m: Move): Promise<Json> {
  const refs = refsOf(ctx);
  const secret = ctx.world.clusterSecret(m.cluster);
  const comps = ctx.world.compsOf(m.cluster).map((id) => ctx.world.comp(id)!).filter((c) => c.status === 'active');
  if (comps.length > 0 && (secret?.user == null || secret.password == null)) throw new JobError(JOB_INTERNAL_ERROR, `cluster ${m.cluster} has no compute credentials: cannot reroute`);
  for (const c of comps) {
    checkLeading(ctx.signal);
    await withComp({ host: c.hostaddr, port: c.port, user: secret!.user!, password: secret!.password! }, (pc) => setTableShard(pc, refs, m.dst), { signal: ctx.signal, attempts: 3 });
  }
  await writeRow(ctx, m, 'rerouted');
  return { comps: comps.length, shard: m.dst };
}

async function cleanup(ctx: JobContext, m: Move): Promise<Json> {
  const refs = refsOf(ctx);
  const s = await connectNode(ctx, primaryNode(ctx, m.src));
  try {
    await dropCapture(s, m.id, refs.map((r) => ({ db: storageDb(r) })));
    if (m.drop) for (const r of refs) await s.query(`DROP TABLE IF EXISTS ${qst(storageDb(r), movedName(r.table, m.id))}`);
  } finally {
    await s.end().catch(() => undefined);
  }
  return { old_tables: m.drop ? 'dropped' : refs.map((r) => `${storageDb(r)}.${movedName(r.table, m.id)}`).join(',') };
}

export async function expandCluster(ctx: JobContext): Promise<Json> {
  const m = moveOf(ctx);
  const total = EXPAND_STEPS.length;
  const prep = obj(await ctx.step(PREPARE, total, async () => (await prepare(ctx, m)) as unknown as Obj));
  const copied = obj(await ctx.step(DUMP, total, () => dump(ctx, m)));
  const caught = obj(await ctx.step(CATCHUP, total, () => catchup(ctx, m)));
  const renamed = obj(await ctx.step(RENAME, total, async () => (await rename(ctx, m)) as unknown as Obj));
  const checked = obj(await ctx.step(VERIFY, total, () => verify(ctx, m)));
  const routed = obj(await ctx.step(REROUTE, total, () => reroute(ctx, m)));
  const cleaned = obj(await ctx.step(CLEANUP, total, () => cleanup(ctx, m)));
  // Write unavailability of the moved tables: from the rename to the new routing.
  const pauseMs = Date.now() - Number(renamed.renamed_at);
  const result = {
    cluster_id: m.cluster,
    src_shard_id: m.src,
    dst_shard_id: m.dst,
    table_list: (prep.tables as string[]).join(','),
    rows: copied.rows ?? 0,
    copy_rows_per_s: copied.rows_per_s ?? 0,
    replayed: caught.replayed ?? 0,
    checksum: checked.checksum ?? '',
    verified_rows: checked.rows ?? 0,
    comps: routed.comps ?? 0,
    old_tables: cleaned.old_tables ?? '',
  };
  await writeRow(ctx, m, 'done', { memo: { ...result, cutover_ms: pauseMs } });
  return result;
}

/**
 * Before the routing moved, a failure puts the source back as it was: the old names, no capture; the
 * destination's copies are dropped. After it, the tables live on the destination: only the row says failed.
 */
export async function expandClusterRollback(ctx: JobContext, err: JobError): Promise<void> {
  const m = moveOf(ctx);
  const rerouted = ctx.job.steps.some((s) => s.step === REROUTE && s.ok);
  // The capture may exist once prepare began; the destination tables are the move's only once it finished.
  const refs = refsOf(ctx);
  const ours = prepared(ctx) !== null;
  if (!rerouted && refs.length > 0) {
    await withPrimaries(ctx, m, async (s, d) => {
      if (ours && (await isRenamed(s, refs, m.id))) {
        await s.query(`RENAME TABLE ${refs.map((r) => `${qst(storageDb(r), movedName(r.table, m.id))} TO ${qst(storageDb(r), r.table)}`).join(', ')}`);
      }
      await dropCapture(s, m.id, refs.map((r) => ({ db: storageDb(r) })));
      // prepare checked the destination had none of them: every one there is this move's copy.
      if (ours) for (const r of refs) await d.query(`DROP TABLE IF EXISTS ${qst(storageDb(r), r.table)}`);
    });
  }
  await writeRow(ctx, m, 'failed', { memo: { error_code: err.code, error_info: err.info, rolled_back: !rerouted } });
}
