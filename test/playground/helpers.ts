// Runs `cluster-mgr playground` as a user would (a child process with its output read), parses the
// summary it prints, and stops it with `--down`; a teardown that leaves nothing behind even when a test
// failed half-way.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processesUnder } from '../../src/agent/procfs.js';
import { sweep } from '../../src/playground/playground.js';
import { setTimeout as sleep } from 'node:timers/promises';

export const bin = fileURLToPath(new URL('../../../bin/cluster-mgr.js', import.meta.url));

export interface Summary {
  startedInS: number;
  firstUrl: string;
  leaderUrl: string;
  memberPids: number[];
  getStatusCmd: string;
  statusCmd: string;
  switchCmd: string | null;
  killCmd: string | null;
  kill: { pid: number; shard: number; addr: string } | null;
  replayCmd: string;
  /** `watch --nats … --nats-user watcher --nats-password-file …`, as printed. */
  watchCmd: string;
  downCmd: string;
  /** The primaries' `mysql --defaults-extra-file=… -h … -P …` lines. */
  mysqlCmds: string[];
  /** The metadata shard's mysql command. */
  metaMysqlCmd: string;
  psqlUrl: string | null;
}

export function parseSummary(text: string): Summary {
  const lines = text.split('\n');
  const find = (re: RegExp): RegExpExecArray | null => {
    for (const l of lines) {
      const m = re.exec(l);
      if (m) return m;
    }
    return null;
  };
  const must = (re: RegExp, what: string): RegExpExecArray => {
    const m = find(re);
    if (!m) throw new Error(`the summary has no ${what}:\n${text}`);
    return m;
  };
  const kill = find(/^\s+(kill -9 (\d+))\s+# shard (\d+)'s primary (\S+)/);
  return {
    startedInS: Number(must(/started in ([\d.]+) s/, 'start-up time')[1]),
    firstUrl: must(/Emit \(compatible\)\s+POST (\S+)\/HttpService\/Emit/, 'Emit URL')[1]!,
    leaderUrl: must(/leader: member\d (\S+)/, 'leader')[1]!,
    memberPids: lines.filter((l) => /^\s+member\d\s/.test(l)).map((l) => Number(/pid (\d+)/.exec(l)?.[1])),
    getStatusCmd: must(/^\s+(curl .*"get_status".*)$/, 'get_status command')[1]!,
    statusCmd: must(/^\s+(node \S+ status (?:--token-file \S+ )?--url \S+ --watch)$/, 'status command')[1]!,
    switchCmd: find(/^\s+(curl .*"manual_switch".*)$/)?.[1] ?? null,
    killCmd: kill?.[1] ?? null,
    kill: kill ? { pid: Number(kill[2]), shard: Number(kill[3]), addr: kill[4]! } : null,
    replayCmd: must(/^\s+(node \S+ replay .*)$/, 'replay command')[1]!,
    watchCmd: must(/^\s+(node \S+ watch --nats .*)$/, 'watch command')[1]!,
    downCmd: must(/^\s+(node \S+ playground --down .*)$/, '--down command')[1]!,
    mysqlCmds: lines.filter((l) => /^\s{4}mysql --defaults-extra-file=\S+ -h /.test(l)).map((l) => l.trim()),
    metaMysqlCmd: must(/metadata shard\s+(mysql --defaults-extra-file=\S+ -h .*)$/, 'metadata shard mysql command')[1]!,
    psqlUrl: find(/psql (postgres:\/\/\S+)/)?.[1] ?? null,
  };
}

/** A pasted command: bash runs it as a user's shell would. */
export function sh(cmd: string, timeoutMs = 60_000): { code: number | null; out: string; err: string } {
  const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

export class PlaygroundRun {
  proc: ChildProcess | null = null;
  out = '';
  exited: Promise<number | null> = Promise.resolve(null);

  constructor(
    readonly dir: string,
    readonly args: string[],
    /** Another way to start it (e.g. the README's command in a network namespace): argv and environment. */
    readonly how: { argv: string[]; env?: NodeJS.ProcessEnv; cwd?: string } | null = null,
  ) {}

  start(): void {
    const [cmd, ...argv] = this.how?.argv ?? [process.execPath, bin, 'playground', '--dir', this.dir, ...this.args];
    const child = spawn(cmd!, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: this.how?.env ?? process.env, cwd: this.how?.cwd });
    this.proc = child;
    child.stdout.on('data', (b: Buffer) => (this.out += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (this.out += b.toString('utf8')));
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
  }

  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Waits for the line `playground ready` on its own. */
  async ready(timeoutMs: number): Promise<Summary> {
    const end = Date.now() + timeoutMs;
    while (!/^playground ready$/m.test(this.out)) {
      if (!this.running) throw new Error(`the playground exited before it was ready:\n${this.out}`);
      if (Date.now() > end) throw new Error(`no "playground ready" after ${timeoutMs / 1000} s:\n${this.out}`);
      await sleep(250);
    }
    return parseSummary(this.out);
  }

  /** Its exit code once it exits, or 'still running' after `ms` (the timer does not outlive the answer). */
  async exitWithin(ms: number): Promise<number | null | 'still running'> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'still running'>((r) => (timer = setTimeout(() => r('still running'), ms)));
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Processes still working under the playground dir. */
  leftovers(): number[] {
    return processesUnder(this.dir).filter((p) => p !== process.pid);
  }

  /** Whatever happened: stop the playground process and everything under its dir. */
  async cleanup(): Promise<void> {
    if (this.running) {
      spawnSync(process.execPath, [bin, 'playground', '--down', '--dir', this.dir], { timeout: 120_000 });
      if (this.running) this.proc!.kill('SIGKILL');
      await this.exited;
    }
    if (existsSync(this.dir)) {
      await sweep(this.dir, 5_000);
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** The members' log lines about health and failover (the last `n`), for a failure report. */
export function failoverLogLines(dir: string, n = 25): string {
  const logs = [1, 2, 3].map((i) => join(dir, `member${i}`, 'cluster_mgr.1.log')).filter((f) => existsSync(f));
  const lines = logs.flatMap((f) => readFileSync(f, 'utf8').split('\n').filter((l) => /failover|suppress|"dead"|set_health|rejoin|writable/.test(l)));
  return lines.slice(-n).map((l) => l.slice(0, 400)).join('\n');
}
