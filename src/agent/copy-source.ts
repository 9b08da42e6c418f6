// The sending side of a physical copy between agents: `mariadb-backup --backup --stream=xbstream` of a
// running storage instance, streamed as the body of GET /HttpService/CopyStream to the agent that
// rebuilds a node from it. The caller is not the manager but another agent, which does not hold this
// agent's token: it presents a one-time ticket the manager obtained with `prepare_copy_source`. The
// sha256 of the stream and the backup's exit status follow the body as HTTP trailers, so the receiver
// can tell a complete, verified stream from a cut one. A receiver that stops reading for
// copy_stall_timeout_s (its agent hung, the network lost) is given up: the backup is killed.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import { mariadbBackupBinaries } from '../launcher/server-binaries.js';
import type { Account } from './config.js';
import { dataDir, livePid } from './instances.js';
import type { InstanceRecord, Registry } from './registry.js';
import { writeSecretFile } from '../config/secret-file.js';

export const COPY_STREAM_PATH = '/HttpService/CopyStream';
export const TRAILER_SHA = 'x-copy-sha256';
export const TRAILER_STATUS = 'x-copy-status';
/** A ticket not presented within this time is void. */
export const TICKET_TTL_MS = 10 * 60_000;

interface Ticket {
  port: number;
  /** The account the stream's mariadb-backup logs in with (kept in memory only, with the ticket). */
  account: Account;
  expiresAt: number;
}

/**
 * One-time tickets for the stream endpoint. Kept by their sha256, so looking one up compares digests,
 * not the secret itself (no timing hint about the ticket).
 */
export class CopyTickets {
  private readonly byDigest = new Map<string, Ticket>();

  issue(port: number, account: Account, now = Date.now()): string {
    this.sweep(now);
    const ticket = randomBytes(32).toString('hex');
    this.byDigest.set(digest(ticket), { port, account, expiresAt: now + TICKET_TTL_MS });
    return ticket;
  }

  /** The port and account a valid ticket is for, or null; a ticket is usable once. */
  take(ticket: string, now = Date.now()): { port: number; account: Account } | null {
    this.sweep(now);
    const key = digest(ticket);
    const t = this.byDigest.get(key);
    if (!t) return null;
    this.byDigest.delete(key);
    return { port: t.port, account: t.account };
  }

  private sweep(now: number): void {
    for (const [k, t] of this.byDigest) if (t.expiresAt <= now) this.byDigest.delete(k);
  }
}

function digest(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/**
 * An option file for mariadb-backup: the account and the instance's socket, 0600 in a private dir, so
 * the password is never on a command line. `--defaults-file` (not -extra-): the host's /etc/mysql
 * settings of its own server (datadir, …) must not leak into a backup of ours.
 */
export function backupOptionFile(file: string, rec: InstanceRecord, account: Account): void {
  writeSecretFile(
    file,
    ['[mariadb-backup]', `user=${optionValue(account.user)}`, `password=${optionValue(account.password)}`,
      `socket=${optionValue(join(rec.dir, 'mysqld.sock'))}`, `datadir=${optionValue(dataDir(rec))}`, ''].join('\n'),
  );
}

/** A value quoted for a MySQL option file ("#" would start a comment); backslash is its escape. */
export function optionValue(v: string): string {
  if (/[\r\n]/.test(v)) throw new Error('an option file value cannot hold a line break');
  if (!v.includes("'")) return `'${v.replace(/\\/g, '\\\\')}'`;
  if (!v.includes('"')) return `"${v.replace(/\\/g, '\\\\')}"`;
  throw new Error('an option file value cannot hold both kinds of quotes');
}

export interface SourceContext {
  registry: Registry;
  log: Logger;
  /** The account mariadb-backup logs in with (the first of default_storage_accounts). */
  account: Account | undefined;
  /** A receiver that has not taken a byte for this long is given up (copy_stall_timeout_s). */
  stallTimeoutMs: number;
}

/** Serves one stream request whose ticket was valid for `port`. Never throws; ends `res` in every case. */
export async function serveCopyStream(ctx: SourceContext, port: number, res: ServerResponse): Promise<void> {
  const rec = ctx.registry.get(port);
  const refuse = (why: string): void => {
    ctx.log.warn({ port, why }, 'copy stream refused');
    res.writeHead(409, { 'content-type': 'text/plain' }).end(why);
  };
  if (!rec || rec.kind !== 'storage' || rec.phase !== 'installed') return refuse(`no storage instance is installed on port ${port}`);
  if (livePid(rec) === null) return refuse(`the storage instance on port ${port} is not running; mariadb-backup needs a running server`);
  if (!ctx.account) return refuse('the source agent has no default_storage_accounts for mariadb-backup to log in with');

  mkdirSync(join(rec.dir, 'tmp'), { recursive: true });
  const work = mkdtempSync(join(rec.dir, 'tmp', 'copy-out-'));
  const started = Date.now();
  try {
    const cnf = join(work, 'backup.cnf');
    backupOptionFile(cnf, rec, ctx.account);
    const args = [`--defaults-file=${cnf}`, '--backup', '--stream=xbstream', `--target-dir=${join(work, 'target')}`, `--tmpdir=${work}`];
    const child = spawn(mariadbBackupBinaries().backup, args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderrTail = '';
    child.stderr.on('data', (c: Buffer) => (stderrTail = (stderrTail + c.toString()).slice(-4_096)));
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    const hash = createHash('sha256');
    let bytes = 0;
    res.writeHead(200, { 'content-type': 'application/octet-stream', trailer: `${TRAILER_SHA}, ${TRAILER_STATUS}` });
    // The receiver gone (aborted, or its agent died): stop the backup at once.
    const onGone = (): void => {
      if (child.exitCode === null) child.kill('SIGKILL');
    };
    res.once('close', onGone);
    // Armed while the socket is full, disarmed when it drains: a reader that stopped reading.
    let stall: NodeJS.Timeout | null = null;
    let stalled = false;
    const giveUp = (): void => {
      stalled = true;
      ctx.log.warn({ port, bytes, seconds: ctx.stallTimeoutMs / 1_000 }, `copy stream: the receiver has read nothing for ${ctx.stallTimeoutMs / 1_000} s (copy_stall_timeout_s); backup stopped`);
      onGone();
      res.destroy();
    };
    child.stdout.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
      if (!res.write(c)) {
        child.stdout.pause();
        stall ??= setTimeout(giveUp, ctx.stallTimeoutMs);
      }
    });
    res.on('drain', () => {
      if (stall) clearTimeout(stall);
      stall = null;
      child.stdout.resume();
    });
    const code = await exited;
    if (stall) clearTimeout(stall);
    res.off('close', onGone);
    if (res.destroyed) {
      if (!stalled) ctx.log.warn({ port, bytes }, 'copy stream: the receiver went away; backup stopped');
      return;
    }
    const ok = code === 0;
    const status = ok ? 'ok' : `failed: mariadb-backup exited with code ${code}: ${lastLine(stderrTail)}`;
    res.addTrailers({ [TRAILER_SHA]: hash.digest('hex'), [TRAILER_STATUS]: status.replace(/[^\x20-\x7e]/g, ' ').slice(0, 500) });
    res.end();
    ctx.log[ok ? 'info' : 'error']({ port, bytes, ms: Date.now() - started, ...(ok ? {} : { stderr: stderrTail }) }, ok ? 'copy stream sent' : 'copy stream failed');
  } catch (e) {
    ctx.log.error({ port, err: e }, 'copy stream failed');
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(`copy stream failed: ${(e as Error).message}`);
    else res.destroy();
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function lastLine(s: string): string {
  const lines = s.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines[lines.length - 1] ?? '(no output)';
}
