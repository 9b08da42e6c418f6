// The agent calls of a physical copy between agents (this agent's own; node_mgr's rebuild_node does
// the whole rebuild in one call and writes into the metadata shard, which this agent never does):
//   prepare_copy_source  on the source's agent: a one-time ticket for its stream of a running instance,
//                        with the size of its data and whether it serves HTTPS;
//   start_copy           on the target's agent: checks the free disk, then fetches, verifies, prepares and
//                        swaps in the copy (answers at once);
//   get_copy_status      step, bytes, rate, and at the end the GTID position of the copy (also after an
//                        agent restart: the outcome is kept on disk);
//   abort_copy           stops it before the swap; the old data dir stays as it was.
import { MAX_KEPT, type KnownCopy } from './copy-runs.js';
import { CopyRun, type CopyStatus } from './copy-target.js';
import { freeBytes, humanBytes, treeBytes } from './disk.js';
import { failed, isAnswer, ok, target } from './job-answers.js';
import type { JobContext, JobDef } from './job-def.js';
import type { Answer } from './protocol.js';
import { dataDir, livePid } from './instances.js';
import { accountName, copyTicket, flag01, hostAddr, intIn, matching, opt, parseParas, password, port, req } from './validate.js';
import type { InstanceRecord } from './registry.js';

const copyId = matching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a copy id (letters, digits, ".", "_", "-"; at most 64)');

// user/password: the account mariadb-backup logs in with (the manager's admin, as install_mysql got it);
// without them, the first of default_storage_accounts.
const PREPARE_COPY_SOURCE = { port: req(port), user: opt(accountName), password: opt(password) };
const START_COPY = {
  port: req(port),
  source_host: req(hostAddr),
  source_agent_port: req(intIn(1, 65_535)),
  ticket: req(copyTicket),
  copy_id: opt(copyId),
  // node_mgr's default is 10 MB/s; 0 lifts the limit.
  pv_limit: opt(intIn(0, 100_000)),
  need_backup: opt(flag01),
  // From the source's prepare_copy_source: data_bytes (for the free-disk check) and tls.
  source_bytes: opt(intIn(0, Number.MAX_SAFE_INTEGER)),
  source_tls: opt(flag01),
};
const ONE_COPY = { copy_id: opt(copyId), port: opt(port) };

const isFailure = (x: KnownCopy | Answer): x is Answer => typeof x.status === 'string';

/** The copy named by copy_id, else the last one on port (or the failed answer saying why there is none). */
function findCopy(ctx: JobContext, job: string, paras: Record<string, unknown>): KnownCopy | Answer {
  const p = parseParas(job, paras, ONE_COPY);
  if (p.copy_id === undefined && p.port === undefined) return failed(`${job}: paras.copy_id, paras.port: give one of them`);
  const run = p.copy_id !== undefined ? ctx.copies.get(p.copy_id) : ctx.copies.onPort(p.port!);
  const which = p.copy_id !== undefined ? `with id ${p.copy_id}` : `on port ${p.port}`;
  return run ?? failed(`${job}: no copy ${which} is known to this agent (it remembers the last ${MAX_KEPT}, across its restarts)`, undefined, 'unknown_copy');
}

/**
 * Why the copy would not fit, or null: the source's data plus the margin must fit in the free space of
 * the instance's file system. The old data dir is on that disk already (kept with need_backup, removed
 * after the swap otherwise), so it is in the used space, not in what the copy needs.
 */
function noRoom(ctx: JobContext, rec: InstanceRecord, sourceBytes: number | undefined): string | null {
  if (sourceBytes === undefined) {
    ctx.log.info({ port: rec.port }, 'start_copy: no source_bytes given; the free-disk check is skipped');
    return null;
  }
  const margin = ctx.cfg.copyDiskMarginPct;
  const need = Math.ceil((sourceBytes * (100 + margin)) / 100);
  const free = freeBytes(rec.dir);
  if (need <= free) return null;
  return (
    `start_copy: port ${rec.port}: not enough free disk for the copy: it needs ${need} bytes (${humanBytes(need)}: ` +
    `the source's ${sourceBytes} bytes + ${margin} % copy_disk_margin_pct) and ${rec.dir} has ${free} bytes (${humanBytes(free)}) free`
  );
}

const prepareCopySource: JobDef = {
  async run(ctx, env) {
    const p = parseParas('prepare_copy_source', env.paras, PREPARE_COPY_SOURCE);
    await Promise.resolve();
    const rec = target(ctx, p.port, 'storage');
    if (isAnswer(rec)) return rec;
    if (livePid(rec) === null) return failed(`prepare_copy_source: the storage instance on port ${p.port} is not running; a copy is taken from a running server`);
    if ((p.user === undefined) !== (p.password === undefined)) return failed('prepare_copy_source: paras.user and paras.password go together');
    const account = p.user !== undefined ? { user: p.user, password: p.password! } : ctx.cfg.defaultStorageAccounts[0];
    if (account === undefined) {
      return failed('prepare_copy_source: no account for mariadb-backup to log in with: send paras.user and paras.password, or set default_storage_accounts');
    }
    // A secret for one use: the caller hands it to the target's agent in start_copy, and nothing logs it.
    // data_bytes (the files' sizes: what the stream carries, about) and tls go to start_copy too.
    return ok({ ticket: ctx.tickets.issue(p.port, account), port: p.port, expires_in_ms: 600_000, data_bytes: treeBytes(dataDir(rec)), tls: ctx.cfg.tls !== null });
  },
};

const startCopy: JobDef = {
  async run(ctx, env) {
    const p = parseParas('start_copy', env.paras, START_COPY);
    await Promise.resolve();
    const rec = target(ctx, p.port, 'storage');
    if (isAnswer(rec)) return rec;
    const running = ctx.copies.onPort(p.port);
    if (running && !running.finished) return failed(`start_copy: copy ${running.status().copy_id} is already running on port ${p.port} (step ${running.status().step})`);
    const id = p.copy_id ?? `${p.port}-${env.requestId.replace(/[^A-Za-z0-9._-]/g, '').slice(0, 40) || 'copy'}`;
    const existing = ctx.copies.get(id);
    if (existing && !existing.finished) return failed(`start_copy: copy ${id} is running (step ${existing.status().step})`);
    const room = noRoom(ctx, rec, p.source_bytes);
    if (room !== null) return failed(room);
    const { cfg } = ctx;
    const run = new CopyRun(
      {
        copyId: id,
        port: p.port,
        sourceHost: p.source_host,
        sourceAgentPort: p.source_agent_port,
        ticket: p.ticket,
        pvLimitMb: p.pv_limit ?? 10,
        needBackup: p.need_backup ?? false,
        // Absent: HTTPS when this agent is set up for TLS itself (agents of a cluster are set up alike).
        sourceTls: p.source_tls ?? (cfg.tls !== null || cfg.tlsCaFile !== null),
        ...(p.source_bytes !== undefined ? { sourceBytes: p.source_bytes } : {}),
      },
      {
        registry: ctx.registry,
        log: ctx.log,
        osUser: cfg.postgresOsUser,
        startTimeoutMs: cfg.startTimeoutMs,
        stallTimeoutMs: cfg.copyStallTimeoutMs,
        retention: { keep: cfg.copyKeepOldDatadirs, maxAgeDays: cfg.copyKeepOldDays },
        tlsCaFile: cfg.tlsCaFile,
      },
    );
    ctx.copies.add(run);
    // Under the port's lock for its whole run: no other job and no keepalive restart meanwhile.
    void ctx.locks.run(p.port, () => run.execute());
    return ok(run.status() as unknown as Record<string, unknown>);
  },
};

const getCopyStatus: JobDef = {
  async run(ctx, env) {
    await Promise.resolve();
    const run = findCopy(ctx, 'get_copy_status', env.paras);
    if (isFailure(run)) return run;
    const s: CopyStatus = run.status();
    return ok(s as unknown as Record<string, unknown>);
  },
};

const abortCopy: JobDef = {
  async run(ctx, env) {
    await Promise.resolve();
    const run = findCopy(ctx, 'abort_copy', env.paras);
    if (isFailure(run)) return run;
    if (run.finished) return ok(run.status() as unknown as Record<string, unknown>);
    const at = run.status();
    if (!run.requestAbort()) return failed(`abort_copy: copy ${at.copy_id} is in step ${at.step}, past the point where it can be stopped; it finishes in seconds`);
    // Answered once the copy has stopped and its directory is gone; a queued copy ends when its turn comes.
    if (at.step !== 'queued') await run.settled;
    return ok(run.status() as unknown as Record<string, unknown>);
  },
};

export const COPY_JOBS: Readonly<Record<string, JobDef>> = {
  prepare_copy_source: prepareCopySource,
  start_copy: startCopy,
  get_copy_status: getCopyStatus,
  abort_copy: abortCopy,
};
