// A server process the launcher started: its argv, log file, lifecycle (stop, kill -9, pause, resume)
// and the guarantee that it does not outlive its owner. Processes tied to the owner are started under
// `setpriv --pdeathsig KILL`, so the kernel kills them even when the owner itself is killed with -9;
// the exit and signal handlers below cover the ordinary ways out.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SpawnSpec {
  /** Short label for messages, e.g. "mariadbd 127.0.0.1:3307". */
  name: string;
  command: string;
  args: string[];
  /** stdout and stderr go here. */
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Run as this user (name); the launcher runs as root on test machines, PostgreSQL refuses root. */
  user?: string;
  /** Kill with the owner (default). False for instances a node agent keeps running across its restarts. */
  tiedToOwner?: boolean;
  /** Signal for a graceful stop. */
  stopSignal?: NodeJS.Signals;
}

export class ProcessExitedError extends Error {}

const live = new Set<ManagedProcess>();
let handlersInstalled = false;

export class ManagedProcess {
  private child: ChildProcess | null = null;
  private exitPromise: Promise<number | null> | null = null;
  private exitCode: number | null = null;
  private exitSignal: NodeJS.Signals | null = null;
  paused = false;

  constructor(readonly spec: SpawnSpec) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null && this.exitPromise !== null && this.exitCode === null && this.exitSignal === null;
  }

  /** How the last run ended, for error messages. */
  get exitDescription(): string {
    if (this.exitSignal) return `killed by ${this.exitSignal}`;
    if (this.exitCode !== null) return `exited with code ${this.exitCode}`;
    return 'running';
  }

  start(): void {
    if (this.running) throw new Error(`${this.spec.name} is already running (pid ${this.pid})`);
    installExitHandlers();
    const fd = openSync(this.spec.logFile, 'a');
    const tied = this.spec.tiedToOwner !== false;
    const wrap: string[] = [];
    if (tied || this.spec.user) {
      wrap.push('setpriv');
      if (this.spec.user) wrap.push(`--reuid=${this.spec.user}`, `--regid=${this.spec.user}`, '--init-groups');
      if (tied) wrap.push('--pdeathsig', 'KILL');
      wrap.push('--');
    }
    const argv = [...wrap, this.spec.command, ...this.spec.args];
    this.exitCode = null;
    this.exitSignal = null;
    this.paused = false;
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: this.spec.cwd,
      env: this.spec.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: !tied,
    });
    closeSync(fd);
    this.child = child;
    live.add(this);
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        live.delete(this);
        resolve(code);
      });
      child.once('error', (err) => {
        this.exitCode = -1;
        live.delete(this);
        void err;
        resolve(-1);
      });
    });
    if (!tied) child.unref();
  }

  /** Resolves when the process has exited (at once if it is not running). */
  async waitExit(): Promise<void> {
    if (this.exitPromise) await this.exitPromise;
  }

  /** Graceful stop with a deadline, then SIGKILL. */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (!this.running) return;
    if (this.paused) this.resume();
    this.signal(this.spec.stopSignal ?? 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      this.waitExit().then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!done) await this.kill9();
  }

  /** kill -9: no chance to flush or close anything. */
  async kill9(): Promise<void> {
    if (!this.running) return;
    this.signal('SIGKILL');
    await this.waitExit();
    this.paused = false;
  }

  /** SIGSTOP: the process hangs (keeps its sockets open, answers nothing). */
  pause(): void {
    this.signal('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    this.signal('SIGCONT');
    this.paused = false;
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.child?.pid || !this.running) return;
    try {
      process.kill(this.child.pid, sig);
    } catch {
      // Already gone.
    }
  }

  /** The last lines of its log, to put into an error message. */
  logTail(lines = 15, file = this.spec.logFile): string {
    if (!existsSync(file)) return '(no log written)';
    const text = readFileSync(file, 'utf8').trimEnd().split('\n');
    return text.slice(-lines).join('\n');
  }
}

/** Kill every process still tied to this owner; synchronous so it works from an 'exit' handler. */
export function killAllTied(): void {
  for (const p of live) {
    if (p.spec.tiedToOwner === false) continue;
    if (p.paused) p.signal('SIGCONT');
    p.signal('SIGKILL');
  }
}

/** Graceful stop of every tied process (used on SIGINT/SIGTERM). */
export async function stopAllTied(timeoutMs = 10_000): Promise<void> {
  await Promise.all([...live].filter((p) => p.spec.tiedToOwner !== false).map((p) => p.stop(timeoutMs)));
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.once('exit', killAllTied);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // Only take over the signal when nobody else handles it, so a CLI's own handler keeps control.
    if (process.listenerCount(sig) > 0) continue;
    process.once(sig, () => {
      void stopAllTied(5_000).finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    });
  }
}

/** Polls `check` until it returns a value, the process dies, or the deadline passes. */
export async function waitUntil<T>(
  what: string,
  proc: ManagedProcess | null,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
  errorLog?: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown = null;
  let delay = 25;
  for (;;) {
    if (proc && !proc.running) {
      throw new ProcessExitedError(
        `${proc.spec.name} ${proc.exitDescription} before it was ready (${what}); log ${errorLog ?? proc.spec.logFile}:\n` +
          proc.logTail(15, errorLog),
      );
    }
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      const why = lastErr instanceof Error ? `; last error: ${lastErr.message}` : '';
      const where = proc ? `; log ${errorLog ?? proc.spec.logFile}:\n${proc.logTail(15, errorLog)}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}${where}`);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 250);
  }
}
