// The agent calls of a physical copy between agents (this agent's own; node_mgr's rebuild_node does
// the whole rebuild in one call and writes into the metadata shard, which this agent never does):
//   prepare_copy_source  on the source's agent: a one-time ticket for its stream of a running instance;
//   start_copy           on the target's agent: fetch, verify, prepare and swap in the copy (answers at once);
//   get_copy_status      step, bytes, rate, and at the end the GTID position of the copy;
//   abort_copy           stops it before the swap; the old data dir stays as it was.
import { CopyRun, type CopyStatus } from './copy-target.js';
import { failed, isAnswer, ok, target } from './job-answers.js';
import type { JobContext, JobDef } from './job-def.js';
import { livePid } from './instances.js';
import { accountName, copyTicket, flag01, hostAddr, intIn, matching, opt, parseParas, password, port, req } from './validate.js';

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
};
const ONE_COPY = { copy_id: opt(copyId), port: opt(port) };

/** The copy named by copy_id, else the last one on port. */
function findCopy(ctx: JobContext, job: string, paras: Record<string, unknown>): CopyRun | string {
  const p = parseParas(job, paras, ONE_COPY);
  if (p.copy_id === undefined && p.port === undefined) return `${job}: paras.copy_id, paras.port: give one of them`;
  const run = p.copy_id !== undefined ? ctx.copies.get(p.copy_id) : ctx.copies.onPort(p.port!);
  return run ?? `${job}: no copy ${p.copy_id !== undefined ? `with id ${p.copy_id}` : `on port ${p.port}`} is known to this agent (since its last start)`;
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
    return ok({ ticket: ctx.tickets.issue(p.port, account), port: p.port, expires_in_ms: 600_000 });
  },
};

const startCopy: JobDef = {
  async run(ctx, env) {
    const p = parseParas('start_copy', env.paras, START_COPY);
    await Promise.resolve();
    const rec = target(ctx, p.port, 'storage');
    if (isAnswer(rec)) return rec;
    const running = ctx.copies.onPort(p.port);
    if (running && !running.finished) return failed(`start_copy: copy ${running.req.copyId} is already running on port ${p.port} (step ${running.step})`);
    const id = p.copy_id ?? `${p.port}-${env.requestId.replace(/[^A-Za-z0-9._-]/g, '').slice(0, 40) || 'copy'}`;
    const existing = ctx.copies.get(id);
    if (existing && !existing.finished) return failed(`start_copy: copy ${id} is running (step ${existing.step})`);
    const run = new CopyRun(
      { copyId: id, port: p.port, sourceHost: p.source_host, sourceAgentPort: p.source_agent_port, ticket: p.ticket, pvLimitMb: p.pv_limit ?? 10, needBackup: p.need_backup ?? false },
      { registry: ctx.registry, log: ctx.log, osUser: ctx.cfg.postgresOsUser, startTimeoutMs: ctx.cfg.startTimeoutMs },
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
    if (typeof run === 'string') return failed(run);
    const s: CopyStatus = run.status();
    return ok(s as unknown as Record<string, unknown>);
  },
};

const abortCopy: JobDef = {
  async run(ctx, env) {
    await Promise.resolve();
    const run = findCopy(ctx, 'abort_copy', env.paras);
    if (typeof run === 'string') return failed(run);
    if (run.finished) return ok(run.status() as unknown as Record<string, unknown>);
    if (!run.requestAbort()) return failed(`abort_copy: copy ${run.req.copyId} is in step ${run.step}, past the point where it can be stopped; it finishes in seconds`);
    // Answered once the copy has stopped and its directory is gone; a queued copy ends when its turn comes.
    if (run.step !== 'queued') await run.settled;
    return ok(run.status() as unknown as Record<string, unknown>);
  },
};

export const COPY_JOBS: Readonly<Record<string, JobDef>> = {
  prepare_copy_source: prepareCopySource,
  start_copy: startCopy,
  get_copy_status: getCopyStatus,
  abort_copy: abortCopy,
};
