// manual_backup_cluster (cluster_mgr-api.md §3.12) and its per-shard child shard_coldbackup (§3.27):
// a physical backup of every storage shard into a backup storage. The parent starts one child per
// shard, all at once, and ends when they have all ended (done only if every one is done; the original
// answered done at once). A child picks the shard's backup node as the original does (a healthy
// replica within backup_allow_replica_delay, the least behind; the primary only when none qualifies),
// streams `mariadb-backup --backup` from that node's agent through this leader into the storage
// (src/backup/stream-to-store.ts), then writes the manifest next to the data. A new leader reruns an
// interrupted stream from the start under the same keys; the engine ends each job exactly once.
import { agentPortOf } from '../../agent/for-machine.js';
import { storageSettings } from '../../actors/backup-storages.js';
import { retentionVictims, RETENTION_STEP, type BackupRecord } from '../../actors/index.js';
import { openStore, StorageError, type BackupStore } from '../../backup-storage/index.js';
import { backupKeys, MANIFEST_FORMAT, type BackupManifest } from '../../backup/manifest.js';
import { BackupStream } from '../../backup/stream-to-store.js';
import { verifyBackup, type VerifyResult } from '../../backup/verify.js';
import { memberSecrets } from '../../config/member-secrets.js';
import type { Json } from '../../events/schema.js';
import { checkLeading } from '../../reconcile/host.js';
import { JobError, type JobContext } from '../engine.js';
import { storageAccount } from '../shard-install.js';
import { chooseSource } from './rebuild.js';
import { num, optNum, req, str } from './request.js';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** The original's numbers: cluster id missing or unknown; backup failed (ERR_BACKUP_STRING). */
export const E_BACKUP_CLUSTER = 70025;
export const E_BACKUP_FAILED = 70204;

export const BACKUP_CLUSTER_STEPS = ['backup_shards', RETENTION_STEP] as const;
export const SHARD_BACKUP_STEPS = ['choose_node', 'backup_data', 'write_manifest', 'verify'] as const;
const [CHOOSE, DATA, MANIFEST, VERIFY] = SHARD_BACKUP_STEPS;

const MB = 1024 * 1024;
/** How often a running stream's progress is recorded (get_status; each is a Raft entry), ms. */
const REPORT_MS = 5_000;
/** A source that sends nothing for this long is given up. */
const STALL_MS = 120_000;

export async function manualBackupCluster(ctx: JobContext): Promise<Json> {
  const r = req(ctx);
  const cluster = num(r, 'cluster_id');
  const storage = str(r, 'backup_storage');
  const shards = (Array.isArray(r.shards) ? r.shards : []).map((s) => Number(s));
  const results = await ctx.step(BACKUP_CLUSTER_STEPS[0], 2, async () => {
    const ids: number[] = [];
    const child = { cluster_id: cluster, backup_storage: storage, verify: num(r, 'verify'), pv_limit: num(r, 'pv_limit') };
    for (const shard of shards) ids.push(await ctx.spawnChild(`shard-${shard}`, 'shard_coldbackup', { ...child, shard_id: shard }));
    const settled = await Promise.allSettled(ids.map((id) => ctx.waitChild(id)));
    checkLeading(ctx.signal);
    const failed = settled.flatMap((s, i) => (s.status === 'rejected' ? [`shard ${shards[i]}: ${(s.reason as Error).message}`] : []));
    if (failed.length > 0) {
      const first = settled.find((x) => x.status === 'rejected')?.reason as unknown;
      const code = first instanceof JobError ? first.code : E_BACKUP_FAILED;
      throw new JobError(code, `manual_backup_cluster of cluster ${cluster}: ${failed.length} of ${shards.length} shard backups failed: ${failed.join('; ')}`.slice(0, 1000));
    }
    return ids.map((id) => ({ shard_id: shards[ids.indexOf(id)]!, job_id: id }));
  });
  const retention = await ctx.step(RETENTION_STEP, 2, () => applyRetention(ctx, cluster));
  return { cluster_id: cluster, backup_storage: storage, shards: results as Json, retention };
}

/** At most this many backups are deleted per job (the step's recorded list stays small); the rest next time. */
const MAX_DELETED = 50;

/**
 * Retention after a successful backup: the cluster's shard backups beyond keep_count or older than
 * keep_days (paras, else backup_keep_count / backup_keep_days) are removed from their storages,
 * manifest first (a backup without one is not offered to a restore), and listed in this step's
 * result, which is how the world knows they are gone. The newest of each shard is always kept.
 */
async function applyRetention(ctx: JobContext, cluster: number): Promise<{ deleted: number[]; keep_count: number; keep_days: number }> {
  const r = req(ctx);
  const keepCount = optNum(r, 'keep_count') ?? ctx.cfg.int('backup_keep_count');
  const keepDays = optNum(r, 'keep_days') ?? ctx.cfg.int('backup_keep_days');
  // No restore exists yet; cluster_restore will add the backups it reads here.
  const needed = new Set<number>();
  const victims: BackupRecord[] = retentionVictims(ctx.world.backups(), cluster, { count: keepCount, days: keepDays }, Date.now(), needed).slice(0, MAX_DELETED);
  for (const b of victims) {
    checkLeading(ctx.signal);
    if (ctx.world.backupStorage(b.backup_storage) === null) continue;
    const store = openBackupStore(ctx, b.backup_storage);
    for (const key of [b.manifest_key, b.data_key]) {
      if (key === '') continue;
      await store.delete(key).catch((e: Error) => {
        throw new JobError(E_BACKUP_FAILED, `manual_backup_cluster: retention: deleting ${key} of backup ${b.job_id} from ${store.describe}: ${e.message}`.slice(0, 900));
      });
    }
  }
  if (victims.length > 0) ctx.log.info({ cluster, deleted: victims.map((b) => b.job_id), keep_count: keepCount, keep_days: keepDays }, 'backup retention: old backups deleted');
  return { deleted: victims.map((b) => b.job_id), keep_count: keepCount, keep_days: keepDays };
}

/** A failed parent leaves what its children stored; it waits only for those still running. */
export async function manualBackupClusterRollback(ctx: JobContext): Promise<void> {
  await ctx.waitChildren();
}

// ---------------------------------------------------------------------------------------------------
// One shard: shard_coldbackup

function openBackupStore(ctx: JobContext, name: string): BackupStore {
  const s = ctx.world.backupStorage(name);
  if (s === null) throw new JobError(E_BACKUP_FAILED, `shard_coldbackup: backup storage ${name} no longer exists`);
  try {
    return openStore(storageSettings(s), { hdfsClient: String(ctx.cfg.values.hdfs_client ?? ''), warn: (m) => ctx.log.warn({ storage: name }, m) });
  } catch (e) {
    if (e instanceof StorageError) throw new JobError(E_BACKUP_FAILED, `shard_coldbackup: backup storage ${name}: ${e.message}`);
    throw e;
  }
}

type Chosen = { node: number; hostaddr: string; port: number; why: string };

/** What the backup_data step records (its info holds at most 1 KB). */
type StreamFigures = {
  started_at: string;
  ended_at: string;
  bytes: number;
  stream_sha256: string;
  stored_bytes: number;
  sha256: string;
  seconds: number;
  mb_per_s: number;
  binlog_file: string;
  binlog_pos: number;
  gtid: string;
  has_binlog: boolean;
  tool_version: string;
  server_version: string;
};

async function chooseNode(ctx: JobContext, shard: number): Promise<Chosen> {
  if (ctx.world.shard(shard) === null) throw new JobError(E_BACKUP_FAILED, `shard_coldbackup: shard ${shard} no longer exists`);
  const maxDelay = ctx.cfg.int('backup_allow_replica_delay');
  try {
    const c = await chooseSource(ctx, shard, new Set(), maxDelay, true);
    const n = ctx.world.node(c.source)!;
    const why = c.source === ctx.world.primaryOf(shard) ? c.why : `${c.why} (${c.delay} s behind, within backup_allow_replica_delay ${maxDelay} s): the primary is not loaded`;
    return { node: n.id, hostaddr: n.hostaddr, port: n.port, why };
  } catch (e) {
    if (e instanceof JobError) throw new JobError(E_BACKUP_FAILED, `shard_coldbackup: shard ${shard}: ${e.info}`);
    throw e;
  }
}

/** Streams the backup, recording its progress every REPORT_MS. */
async function streamData(ctx: JobContext, store: BackupStore, key: string, n: Chosen): Promise<StreamFigures> {
  const agentPort = agentPortOf(ctx.world, n.hostaddr);
  if (agentPort === null) throw new JobError(E_BACKUP_FAILED, `shard_coldbackup: machine ${n.hostaddr} of node ${n.hostaddr}:${n.port} is not registered`);
  const offer = await ctx.agent(n.hostaddr).prepareCopy({ port: n.port, account: storageAccount(ctx) });
  checkLeading(ctx.signal);
  const startedAt = new Date().toISOString();
  const bs = new BackupStream();
  const run = bs.run({
    source: { host: n.hostaddr, agentPort, ticket: offer.ticket, tls: offer.tls === true, ca: memberSecrets(ctx.cfg).agent.tlsCa, signal: ctx.signal },
    store,
    key,
    stallTimeoutMs: STALL_MS,
    pvLimitMb: num(req(ctx), 'pv_limit'),
  });
  let ended = false;
  void run.finally(() => (ended = true)).catch(() => undefined);
  while (!ended) {
    await Promise.race([run.catch(() => undefined), sleep(REPORT_MS)]);
    if (ended) break;
    const secs = (Date.now() - bs.startedAt) / 1000;
    await ctx.report({ step: DATA, bytes: bs.bytes, mb_per_s: +(bs.bytes / MB / Math.max(secs, 0.001)).toFixed(1) });
  }
  const got = await run.catch((e: Error) => {
    checkLeading(ctx.signal);
    throw new JobError(E_BACKUP_FAILED, `shard_coldbackup: backup of ${n.hostaddr}:${n.port} into ${store.describe}: ${e.message}`.slice(0, 900));
  });
  const secs = got.ms / 1000;
  return {
    started_at: startedAt,
    ended_at: new Date().toISOString(),
    bytes: got.stream.size,
    stream_sha256: got.stream.sha256,
    stored_bytes: got.stored.size,
    sha256: got.stored.sha256,
    seconds: +secs.toFixed(1),
    mb_per_s: +(got.stream.size / MB / Math.max(secs, 0.001)).toFixed(1),
    binlog_file: got.binlog?.file ?? '',
    binlog_pos: got.binlog?.pos ?? 0,
    gtid: got.binlog?.gtid ?? '',
    has_binlog: got.binlog !== null,
    tool_version: got.toolVersion.slice(0, 64),
    server_version: got.serverVersion.slice(0, 64),
  };
}

export async function shardColdBackup(ctx: JobContext): Promise<Json> {
  const r = req(ctx);
  const cluster = num(r, 'cluster_id');
  const shard = num(r, 'shard_id');
  const storage = str(r, 'backup_storage');
  const verify = num(r, 'verify') === 1;
  const total = SHARD_BACKUP_STEPS.length - (verify ? 0 : 1);
  const keys = backupKeys(cluster, shard, ctx.job.id);
  const store = openBackupStore(ctx, storage);
  const chosen = await ctx.step(CHOOSE, total, () => chooseNode(ctx, shard));
  const data = await ctx.step(DATA, total, () => streamData(ctx, store, keys.data, chosen));
  const manifest = await ctx.step(MANIFEST, total, async () => {
    const c = ctx.world.cluster(cluster);
    const s = ctx.world.shard(shard);
    const m: BackupManifest = {
      format: MANIFEST_FORMAT,
      cluster_id: cluster,
      cluster_name: c?.name ?? '',
      shard_id: shard,
      shard_name: s?.name ?? '',
      node: { id: chosen.node, hostaddr: chosen.hostaddr, port: chosen.port, why: chosen.why },
      job_id: ctx.job.id,
      parent_job_id: ctx.job.parent,
      storage,
      data: { key: keys.data, bytes: data.stored_bytes, sha256: data.sha256, compression: 'gzip' },
      stream: { bytes: data.bytes, sha256: data.stream_sha256 },
      binlog: data.has_binlog ? { file: data.binlog_file, pos: data.binlog_pos, gtid: data.gtid } : null,
      started_at: data.started_at,
      ended_at: data.ended_at,
      tool_version: data.tool_version,
      server_version: data.server_version,
    };
    const put = await store.put(keys.manifest, Readable.from([Buffer.from(`${JSON.stringify(m, null, 2)}\n`)])).catch((e: Error) => {
      throw new JobError(E_BACKUP_FAILED, `shard_coldbackup: writing ${keys.manifest} into ${store.describe}: ${e.message}`.slice(0, 900));
    });
    return put.sha256;
  });
  const verified = verify ? await ctx.step(VERIFY, total, () => verifyStored(ctx, store, keys.manifest)) : null;
  ctx.log.info({ job: ctx.job.id, shard, node: `${chosen.hostaddr}:${chosen.port}`, bytes: data.bytes, mb_per_s: data.mb_per_s, gtid: data.gtid }, 'shard backup stored');
  return {
    cluster_id: cluster,
    shard_id: shard,
    backup_storage: storage,
    node_id: chosen.node,
    hostaddr: chosen.hostaddr,
    port: chosen.port,
    why: chosen.why,
    data_key: keys.data,
    manifest_key: keys.manifest,
    manifest_sha256: manifest,
    ...data,
    ...(verified !== null ? { verify: verified } : {}),
  };
}

/** Restores the stored backup into a scratch server and checks it (src/backup/verify.ts). */
async function verifyStored(ctx: JobContext, store: BackupStore, manifestKey: string): Promise<VerifyResult> {
  try {
    const chunks: Buffer[] = [];
    for await (const c of await store.get(manifestKey)) chunks.push(c as Buffer);
    const m = JSON.parse(Buffer.concat(chunks).toString('utf8')) as BackupManifest;
    return await verifyBackup({ store, manifest: m, account: storageAccount(ctx), signal: ctx.signal });
  } catch (e) {
    checkLeading(ctx.signal);
    throw new JobError(E_BACKUP_FAILED, `shard_coldbackup: verify of ${manifestKey} in ${store.describe}: ${(e as Error).message}`.slice(0, 900));
  }
}

/** The stored objects of a failed shard backup are removed (a half-written one never lies under its key). */
export async function shardColdBackupRollback(ctx: JobContext): Promise<void> {
  const r = req(ctx);
  const keys = backupKeys(num(r, 'cluster_id'), num(r, 'shard_id'), ctx.job.id);
  const name = str(r, 'backup_storage');
  if (ctx.world.backupStorage(name) === null) return;
  const store = openBackupStore(ctx, name);
  for (const k of [keys.manifest, keys.data]) await store.delete(k).catch((e: Error) => ctx.log.warn({ key: k, err: e.message }, 'backup: removing a failed backup\'s object failed'));
}

