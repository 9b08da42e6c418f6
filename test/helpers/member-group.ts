// Starts cluster_mgr members as real processes (`cluster-mgr start`) on loopback ports, for tests
// that kill them with -9 and restart them.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/launcher/ports.js';
import { bearer, testTokens, type TestTokens } from './api-tokens.js';
import { splitSecrets } from './secret-env.js';
import { setTimeout as sleep } from 'node:timers/promises';

const bin = fileURLToPath(new URL('../../../bin/cluster-mgr.js', import.meta.url));
const sample = fileURLToPath(new URL('../../../deploy/cluster_mgr.cnf', import.meta.url));

export interface MemberProc {
  id: string;
  httpPort: number;
  raftPort: number;
  url: string;
  dataDir: string;
  logFile: string;
  proc: ChildProcess | null;
}

export class MemberGroup {
  members: MemberProc[] = [];
  /** The group's API tokens (one per role) and their api_tokens_file: members run with auth on. */
  readonly tokens: TestTokens;

  constructor(
    readonly dir: string,
    readonly extraSets: string[] = [],
  ) {
    // A second group in the same dir (a joiner) shares the first one's tokens.
    this.tokens = testTokens(dir);
  }

  /** Headers of an authenticated API call (admin unless a role is named). */
  auth(role: 'read' | 'operator' | 'admin' = 'admin', extra: Record<string, string> = {}): Record<string, string> {
    return { ...extra, ...bearer(this.tokens, role) };
  }

  /** fetch on a member's API with the admin token (headers in `init` are kept). */
  fetch(m: MemberProc, path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${m.url}${path}`, { ...init, headers: this.auth('admin', (init.headers ?? {}) as Record<string, string>) });
  }

  async init(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const raftPort = await freePort();
      const httpPort = await freePort();
      this.members.push({
        id: `127.0.0.1:${raftPort}`,
        raftPort,
        httpPort,
        url: `http://127.0.0.1:${httpPort}`,
        dataDir: join(this.dir, `member${i + 1}`),
        logFile: join(this.dir, `member${i + 1}.log`),
        proc: null,
      });
    }
  }

  get peersSetting(): string {
    return this.members.map((m) => `127.0.0.1:${m.raftPort}:0:${m.httpPort}`).join(',') + ',';
  }

  start(m: MemberProc): void {
    const all = [
      `brpc_http_port=${m.httpPort}`,
      `brpc_raft_port=${m.raftPort}`,
      `raft_group_member_init_config=${this.peersSetting}`,
      `cluster_mgr_tmp_data_path=${m.dataDir}`,
      'log_format=json',
      'log_level=debug',
      `api_tokens_file=${this.tokens.file}`,
      ...this.extraSets,
    ];
    const { sets, env } = splitSecrets(all);
    const fd = openSync(m.logFile, 'a');
    m.proc = spawn(process.execPath, [bin, 'start', '-c', sample, ...sets.flatMap((s) => ['--set', s])], { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
    closeSync(fd);
  }

  startAll(): void {
    for (const m of this.members) this.start(m);
  }

  async kill9(m: MemberProc): Promise<void> {
    const p = m.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
    m.proc = null;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill9(m)));
  }

  async get<T>(m: MemberProc, path: string): Promise<T | null> {
    try {
      const r = await this.fetch(m, path, { signal: AbortSignal.timeout(2_000) });
      return (await r.json()) as T;
    } catch {
      return null;
    }
  }

  alive(): MemberProc[] {
    return this.members.filter((m) => m.proc !== null);
  }
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}
