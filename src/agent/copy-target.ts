// The receiving side of a physical copy between agents: fetches the source agent's xbstream (with the
// one-time ticket), extracts it with `mbstream -x` into a fresh directory next to the instance's data
// dir, checks the sha256 of what arrived against the sender's, `mariadb-backup --prepare`s it, and only
// then stops the instance and swaps the copy in with renames on one file system. A half-copied
// directory is never named `data`: on an agent restart `data.copy-*` is removed, and a prepared
// `data.ready-*` finishes a swap that was cut between its two renames. A source that stops sending
// for copy_stall_timeout_s fails the copy; over HTTPS the source is verified against tls_ca_file.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../log/logger.js';
import { mariadbBackupBinaries } from '../launcher/server-binaries.js';
import { fsyncDirSync } from '../raft/storage/fsio.js';
import { TRAILER_SHA, TRAILER_STATUS } from './copy-source.js';
import { requestCopyStream } from './copy-stream-client.js';
import { humanBytes } from './disk.js';
import { dataDir, startExisting, stopInstance } from './instances.js';
import { OLD_PREFIX, oldStamp, pruneOldDatadirs, type Retention } from './old-datadirs.js';
import type { InstanceRecord, Registry } from './registry.js';
import { StallWatch } from './stall-watch.js';
import { MIB, RateMeter } from './throttle.js';

export type CopyStep = 'queued' | 'receiving' | 'verifying' | 'preparing' | 'swapping' | 'starting' | 'done' | 'failed' | 'aborted';

export interface CopyRequest {
  copyId: string;
  port: number;
  sourceHost: string;
  sourceAgentPort: number;
  ticket: string;
  /** MB/s (MiB, like node_mgr's pv -L <n>m); 0 = no limit. */
  pvLimitMb: number;
  /** Keep the old data dir aside (renamed with a timestamp) instead of deleting it. */
  needBackup: boolean;
  /** Fetch the stream over HTTPS (the source agent serves TLS). */
  sourceTls: boolean;
  /** What the source reported of its data (prepare_copy_source data_bytes), when the manager passed it. */
  sourceBytes?: number;
}

export interface CopyDeps {
  registry: Registry;
  log: Logger;
  osUser: string;
  startTimeoutMs: number;
  /** No byte from the source for this long fails the copy (copy_stall_timeout_s). */
  stallTimeoutMs: number;
  /** Of the data.old-* dirs, after a successful copy (copy_keep_old_datadirs, copy_keep_old_days). */
  retention: Retention;
  /** PEM CA that signed the source agents' certificates (tls_ca_file); null: the system's CAs. */
  tlsCaFile: string | null;
}

/** Why a copy was stopped from outside: by abort_copy (step aborted), or by the agent stopping (failed). */
export type StopCause = 'abort_copy' | 'agent_stop';

/** What get_copy_status answers. */
export interface CopyStatus {
  copy_id: string;
  port: number;
  source: string;
  step: CopyStep;
  bytes: number;
  rate_bytes_per_sec: number;
  avg_bytes_per_sec: number;
  pv_limit_mb: number;
  need_backup: boolean;
  started_at: string;
  finished_at: string | null;
  elapsed_ms: number;
  error?: string;
  /** Failed because this agent restarted or was stopped mid-copy: nothing was swapped in, start it again. */
  interrupted?: boolean;
  sha256?: string;
  /** From mariadb_backup_binlog_info: where the copy is in the source's binlog, for the re-pointing. */
  gtid?: string;
  binlog_file?: string;
  binlog_pos?: number;
  old_datadir?: string;
  /** Fetched over HTTPS. */
  source_tls: boolean;
  /** The source's data size the manager passed in start_copy (source_bytes). */
  source_bytes?: number;
  /** Kept data dirs the retention removed after this copy, with their sizes. */
  removed_old_datadirs?: { path: string; bytes: number }[];
}

const COPY_PREFIX = 'data.copy-';
const READY_PREFIX = 'data.ready-';
const TRASH_PREFIX = 'data.trash-';

class AbortedError extends Error {}

export class CopyRun {
  private current: CopyStep = 'queued';
  /** Told of every step change and of the end (the outcomes file is written then). */
  onChange: (() => void) | null = null;
  private meter: RateMeter | null = null;
  private receivingMs = 0;
  private readonly abort = new AbortController();
  private readonly startedAt = Date.now();
  private finishedAt: number | null = null;
  private error: string | undefined;
  private interrupted = false;
  private sha: string | undefined;
  private position: { file: string; pos: number; gtid: string } | undefined;
  private oldDir: string | undefined;
  private removedOld: { path: string; bytes: number }[] | undefined;
  private stopCause: StopCause | null = null;
  private settle!: () => void;
  /** Resolves when the copy has ended, its leftovers removed. */
  readonly settled = new Promise<void>((r) => (this.settle = r));

  constructor(
    readonly req: CopyRequest,
    private readonly deps: CopyDeps,
  ) {}

  get step(): CopyStep {
    return this.current;
  }

  private set step(s: CopyStep) {
    this.current = s;
    this.onChange?.();
  }

  get finished(): boolean {
    return this.step === 'done' || this.step === 'failed' || this.step === 'aborted';
  }

  /** Abort is possible until the swap starts; after that the copy finishes (it takes seconds). */
  requestAbort(cause: StopCause = 'abort_copy'): boolean {
    if (this.finished || this.step === 'swapping' || this.step === 'starting') return false;
    this.stopCause ??= cause;
    this.abort.abort();
    return true;
  }

  status(): CopyStatus {
    const bytes = this.meter?.bytes ?? 0;
    const recvMs = this.step === 'receiving' ? (this.meter?.elapsedMs() ?? 0) : this.receivingMs;
    return {
      copy_id: this.req.copyId,
      port: this.req.port,
      source: `${this.req.sourceHost}:${this.req.sourceAgentPort}`,
      step: this.step,
      bytes,
      rate_bytes_per_sec: this.step === 'receiving' ? (this.meter?.rate() ?? 0) : 0,
      avg_bytes_per_sec: recvMs > 0 ? Math.round((bytes * 1_000) / recvMs) : 0,
      pv_limit_mb: this.req.pvLimitMb,
      need_backup: this.req.needBackup,
      started_at: new Date(this.startedAt).toISOString(),
      finished_at: this.finishedAt === null ? null : new Date(this.finishedAt).toISOString(),
      elapsed_ms: (this.finishedAt ?? Date.now()) - this.startedAt,
      ...(this.error !== undefined ? { error: this.error } : {}),
      ...(this.interrupted ? { interrupted: true } : {}),
      ...(this.sha !== undefined ? { sha256: this.sha } : {}),
      ...(this.position ? { gtid: this.position.gtid, binlog_file: this.position.file, binlog_pos: this.position.pos } : {}),
      ...(this.oldDir !== undefined ? { old_datadir: this.oldDir } : {}),
      source_tls: this.req.sourceTls,
      ...(this.req.sourceBytes !== undefined ? { source_bytes: this.req.sourceBytes } : {}),
      ...(this.removedOld !== undefined ? { removed_old_datadirs: this.removedOld } : {}),
    };
  }

  /** Runs the copy to its end; never throws (the outcome is in status()). Call under the port's lock. */
  async execute(): Promise<void> {
    const { log } = this.deps;
    const rec = this.deps.registry.get(this.req.port);
    const copyDir = rec ? join(rec.dir, `${COPY_PREFIX}${this.req.copyId}`) : '';
    const fields = { copy_id: this.req.copyId, port: this.req.port, source: `${this.req.sourceHost}:${this.req.sourceAgentPort}` };
    try {
      if (!rec || rec.kind !== 'storage' || rec.phase !== 'installed') throw new Error(`no storage instance is installed on port ${this.req.port}`);
      this.checkAbort();
      rmSync(copyDir, { recursive: true, force: true });
      mkdirSync(copyDir, { mode: 0o700 });
      this.step = 'receiving';
      log.info(fields, 'copy: receiving');
      const theirs = await this.receive(copyDir);
      this.step = 'verifying';
      if (theirs.status !== 'ok') throw new Error(`the source agent's backup ${theirs.status}`);
      if (theirs.sha !== this.sha) throw new Error(`checksum mismatch: received sha256 ${this.sha}, the source sent ${theirs.sha || '(none)'}`);
      this.step = 'preparing';
      log.info({ ...fields, bytes: this.meter?.bytes }, 'copy: received and verified; preparing');
      await this.run(mariadbBackupBinaries().backup, ['--no-defaults', '--prepare', `--target-dir=${copyDir}`, '--use-memory=128M'], copyDir, 'mariadb-backup --prepare');
      this.position = binlogPosition(copyDir);
      const ready = join(rec.dir, `${READY_PREFIX}${this.req.copyId}`);
      renameSync(copyDir, ready);
      this.checkAbort();
      this.step = 'swapping';
      await stopInstance(rec);
      this.deps.registry.update(rec.port, { pid: null });
      this.oldDir = swapIn(rec, ready, this.req.needBackup, this.req.copyId);
      this.step = 'starting';
      const pid = await startExisting(this.deps.registry.get(rec.port)!, this.deps.osUser, this.deps.startTimeoutMs);
      this.deps.registry.update(rec.port, { pid, desired: 'running', recoverAsReplica: false });
      this.removedOld = this.applyRetention(rec);
      this.finishedAt = Date.now();
      this.step = 'done';
      log.info({ ...fields, ...this.status() }, 'copy: done; the instance runs read-only on the copied data');
    } catch (e) {
      const at = this.step;
      const aborted = this.stopCause === 'abort_copy';
      const why = this.stopCause === 'agent_stop' ? 'the agent was stopped during the copy; its directory was removed, the old data dir is untouched' : (e as Error).message;
      this.error = aborted ? 'aborted by abort_copy' : `copy ${this.req.copyId} to port ${this.req.port} failed in step ${at}: ${why}`;
      this.interrupted = this.stopCause === 'agent_stop';
      if (copyDir !== '') rmSync(copyDir, { recursive: true, force: true });
      if (this.meter && this.receivingMs === 0) this.receivingMs = this.meter.elapsedMs();
      this.finishedAt = Date.now();
      this.step = aborted ? 'aborted' : 'failed';
      log[aborted ? 'warn' : 'error']({ ...fields, err: this.stopCause ? undefined : e }, aborted ? 'copy aborted; the old data dir is untouched' : 'copy failed');
    } finally {
      this.settle();
    }
  }

  /** After a successful copy: the kept data dirs beyond the retention go (never the one just made). */
  private applyRetention(rec: InstanceRecord): { path: string; bytes: number }[] | undefined {
    try {
      const removed = pruneOldDatadirs(rec.dir, this.deps.retention, new Date(), this.oldDir);
      for (const r of removed) {
        this.deps.log.info({ copy_id: this.req.copyId, port: rec.port, path: r.path, bytes: r.bytes }, `copy: removed the kept data dir ${r.path} (${humanBytes(r.bytes)}): beyond copy_keep_old_datadirs/copy_keep_old_days`);
      }
      return removed.length > 0 ? removed : undefined;
    } catch (e) {
      // The copy itself is done; a dir that could not be removed is seen in list_instances.
      this.deps.log.error({ copy_id: this.req.copyId, port: rec.port, err: e }, 'copy: removing kept data dirs beyond the retention failed');
      return undefined;
    }
  }

  private checkAbort(): void {
    if (this.abort.signal.aborted) throw new AbortedError('aborted');
  }

  /**
   * Streams the source's backup through the meter into mbstream; returns the sender's trailers. From
   * the request on, no byte for stallTimeoutMs (the source's backup hung, the network lost) cuts it.
   */
  private async receive(copyDir: string): Promise<{ sha: string; status: string }> {
    let stalled: Error | null = null;
    let request: ClientRequest | null = null;
    const watch = new StallWatch({
      timeoutMs: this.deps.stallTimeoutMs,
      progress: () => this.meter?.bytes ?? -1,
      onStall: (idleMs) => {
        stalled = new Error(
          `no byte arrived from the source agent ${this.source} for ${Math.round(idleMs / 1_000)} s ` +
            `(copy_stall_timeout_s is ${this.deps.stallTimeoutMs / 1_000}); the stream was cut`,
        );
        request?.destroy(stalled);
      },
    });
    try {
      return await this.receiveFrom(copyDir, (r) => (request = r));
    } catch (e) {
      throw stalled ?? e;
    } finally {
      watch.stop();
    }
  }

  private async receiveFrom(copyDir: string, started: (r: ClientRequest) => void): Promise<{ sha: string; status: string }> {
    const res = await this.get(started);
    if (res.statusCode !== 200) {
      const body = await readAll(res);
      throw new Error(`the source agent refused the copy (HTTP ${res.statusCode}): ${body.slice(0, 300)}`);
    }
    const meter = new RateMeter({ limitBytesPerSec: this.req.pvLimitMb * MIB });
    this.meter = meter;
    const mb = spawn(mariadbBackupBinaries().mbstream, ['-x', '-C', copyDir], { cwd: copyDir, stdio: ['pipe', 'ignore', 'pipe'], signal: this.abort.signal });
    const done = exitOf(mb, 'mbstream -x');
    try {
      await pipeline(res, meter, mb.stdin, { signal: this.abort.signal });
      await done;
    } catch (e) {
      if (mb.exitCode === null) mb.kill('SIGKILL');
      await done.catch(() => undefined);
      throw e;
    }
    this.receivingMs = meter.elapsedMs();
    this.sha = meter.hash.digest('hex');
    if (!res.complete) throw new Error('the stream ended before the source agent finished it');
    return { sha: String(res.trailers[TRAILER_SHA] ?? ''), status: String(res.trailers[TRAILER_STATUS] ?? 'sent no status') };
  }

  private get source(): string {
    return `${this.req.sourceHost}:${this.req.sourceAgentPort}`;
  }

  /** GET of the stream, over HTTPS (verified against tls_ca_file, else the system's CAs) when the source serves TLS. */
  private get(started: (r: ClientRequest) => void): Promise<IncomingMessage> {
    const ca = this.req.sourceTls && this.deps.tlsCaFile !== null ? readFileSync(this.deps.tlsCaFile) : undefined;
    return requestCopyStream(
      { host: this.req.sourceHost, agentPort: this.req.sourceAgentPort, ticket: this.req.ticket, tls: this.req.sourceTls, ca, signal: this.abort.signal },
      started,
    );
  }

  private async run(cmd: string, args: string[], cwd: string, what: string): Promise<void> {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], signal: this.abort.signal });
    await exitOf(child, what);
  }
}

/** Resolves when the child exits 0; rejects naming the program, its code and its last words. */
function exitOf(child: ReturnType<typeof spawn>, what: string): Promise<void> {
  let tail = '';
  child.stderr?.on('data', (c: Buffer) => (tail = (tail + c.toString()).slice(-4_096)));
  return new Promise((resolve, reject) => {
    child.once('error', (e) => reject(new Error(`${what}: ${e.message}`)));
    child.once('close', (code, sig) => {
      if (code === 0) resolve();
      else reject(new Error(`${what} exited with ${code ?? sig}: ${tail.trim().split('\n').pop() ?? ''}`));
    });
  });
}

async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Where the backup's binlog position is written: the 11.x name, then 10.11's. */
export const BINLOG_INFO_FILES = ['mariadb_backup_binlog_info', 'xtrabackup_binlog_info'] as const;

export interface BinlogPosition {
  file: string;
  pos: number;
  gtid: string;
}

/** "<binlog file>\t<position>\t<gtid>" of the source at the backup's end. */
export function binlogPosition(dir: string): BinlogPosition | undefined {
  const f = BINLOG_INFO_FILES.map((n) => join(dir, n)).find((p) => existsSync(p));
  return f === undefined ? undefined : parseBinlogInfo(readFileSync(f, 'utf8'));
}

/** The content of a binlog info file. */
export function parseBinlogInfo(text: string): BinlogPosition {
  const [file = '', pos = '0', gtid = ''] = text.trim().split(/\s+/);
  return { file, pos: Number(pos), gtid };
}

/**
 * Puts the prepared copy in place of the (stopped) instance's data dir: the old one is renamed aside
 * (kept with need_backup, else removed after the swap), then the copy renamed in. Returns the kept dir.
 */
function swapIn(rec: InstanceRecord, ready: string, keep: boolean, copyId: string): string | undefined {
  const data = dataDir(rec);
  let aside: string | undefined;
  if (existsSync(data)) {
    aside = join(rec.dir, keep ? `${OLD_PREFIX}${oldStamp(new Date())}` : `${TRASH_PREFIX}${copyId}`);
    // Two copies within one second: the second keeps its dir under its copy id too.
    if (existsSync(aside)) aside = `${aside}-${copyId}`;
    renameSync(data, aside);
  }
  renameSync(ready, data);
  fsyncDirSync(rec.dir);
  if (aside !== undefined && !keep) {
    rmSync(aside, { recursive: true, force: true });
    return undefined;
  }
  return aside;
}

/**
 * After an agent restart: remove half-received copies and leftovers of a swap, and finish a swap that
 * was cut between its renames (a prepared copy and no data dir). Returns what it did, for the log.
 */
export function cleanCopyLeftovers(rec: InstanceRecord): string[] {
  if (rec.kind !== 'storage' || !existsSync(rec.dir)) return [];
  const done: string[] = [];
  for (const name of readdirSync(rec.dir)) {
    const p = join(rec.dir, name);
    if (name.startsWith(READY_PREFIX) && !existsSync(dataDir(rec))) {
      renameSync(p, dataDir(rec));
      fsyncDirSync(rec.dir);
      done.push(`finished the swap of ${name}`);
    } else if (name.startsWith(COPY_PREFIX) || name.startsWith(READY_PREFIX) || name.startsWith(TRASH_PREFIX)) {
      rmSync(p, { recursive: true, force: true });
      done.push(`removed ${name}`);
    }
  }
  return done;
}
