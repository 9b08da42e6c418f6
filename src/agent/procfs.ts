// What /proc says about a process. The agent controls instances by pid, also ones a previous agent
// process started, so it must make sure a pid still belongs to the instance: a pid is taken as the
// instance only when its program is the expected server and its working directory is the instance's
// data dir (both MariaDB and PostgreSQL change into their data dir), so a recycled pid is never signalled.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pidAlive } from '../launcher/pid-lock.js';

export { pidAlive };

function link(path: string): string | null {
  try {
    return readlinkSync(path).replace(/ \(deleted\)$/, '');
  } catch {
    return null;
  }
}

/** True when `pid` is a live process running one of `programs` with `cwd` as its working dir. */
export function pidIs(pid: number, programs: readonly string[], cwd: string): boolean {
  if (!Number.isInteger(pid) || pid <= 1 || !pidAlive(pid)) return false;
  const exe = link(`/proc/${pid}/exe`);
  return exe !== null && programs.includes(basename(exe)) && link(`/proc/${pid}/cwd`) === cwd;
}

/** Programs the agent may kill when they work in an instance's dir: the servers and their set-up tools. */
export const SERVER_PROGRAMS = ['mariadbd', 'mysqld', 'mariadb-install-db', 'postgres', 'initdb', 'pg_ctl', 'setpriv'] as const;

/**
 * Every live process whose working dir is `dir` or below it; with `programs`, only those running one
 * of them (so an operator's shell that happens to sit in a data dir is never killed).
 */
export function processesUnder(dir: string, programs?: readonly string[]): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    const cwd = link(`/proc/${e}/cwd`);
    if (cwd === null || (cwd !== dir && !cwd.startsWith(`${dir}/`)) || !pidAlive(pid)) continue;
    if (programs) {
      const exe = link(`/proc/${e}/exe`);
      if (exe === null || !programs.includes(basename(exe))) continue;
    }
    out.push(pid);
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone already.
  }
}

/** Polls (with timers, which keep the event loop alive) until every pid has exited. */
export async function waitGone(pids: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (pids.every((p) => !pidAlive(p))) return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}

/**
 * Graceful stop: `sig` to the server, then SIGKILL after `timeoutMs`; afterwards no server process may
 * be left working under `dir` (a PostgreSQL backend keeps shared memory attached, and a new postmaster
 * refuses to start while one lives).
 */
export async function stopProcess(pid: number | null, sig: NodeJS.Signals, dir: string, timeoutMs: number): Promise<void> {
  if (pid !== null && pidAlive(pid)) {
    signal(pid, sig);
    if (!(await waitGone([pid], timeoutMs))) {
      signal(pid, 'SIGKILL');
      await waitGone([pid], 10_000);
    }
  }
  await killUnder(dir);
}

/** kill -9 of every server process working under `dir`; resolves when they are all gone. */
export async function killUnder(dir: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const left = processesUnder(dir, SERVER_PROGRAMS);
    if (left.length === 0) return;
    // Give helpers that exit by themselves (backends after their postmaster died) a moment first.
    if (round === 0 && (await waitGone(left, 2_000))) continue;
    for (const p of left) signal(p, 'SIGKILL');
    await waitGone(left, 5_000);
  }
  const still = processesUnder(dir, SERVER_PROGRAMS);
  if (still.length > 0) throw new Error(`processes ${still.join(', ')} under ${dir} do not exit`);
}

/**
 * The scheduler state of a process (/proc/<pid>/stat): 'stopped' for a SIGSTOPped or traced one (T, t),
 * 'running' for any other live state, null when the process is gone. The manager takes 'stopped' as
 * the strongest sign that a silent primary is hung, not slow (docs/ha.md, detection).
 */
export function procState(pid: number): 'stopped' | 'running' | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) S …": comm may hold spaces and parentheses, the state follows the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (state === 'Z' || state === 'X' || state === '') return null;
  return state === 'T' || state === 't' ? 'stopped' : 'running';
}

export function killNow(pid: number): void {
  signal(pid, 'SIGKILL');
}
