// Starts kv-demo members as child processes on free loopback ports, for the real-process test and
// the benchmark. Children are started with --exit-with-stdin, so they also go away if we die.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../../src/launcher/ports.js';
import { getJson } from './kv-client.js';
import { setTimeout as sleep } from 'node:timers/promises';

const HOST = '127.0.0.1';
const DEMO = fileURLToPath(new URL('./kv-demo.js', import.meta.url));

export interface DemoMember {
  id: string;
  raftPort: number;
  httpPort: number;
  dataDir: string;
  proc: ChildProcess | null;
  /** The last lines the member wrote to stderr, for diagnostics. */
  stderr: string[];
}

export interface MemberStatus {
  id: string;
  role: string;
  leader: string | null;
  term: number;
  commit: number;
  applied: number;
}

export interface DemoClusterOptions {
  root: string;
  ids: string[];
  tickMs?: number;
  electionTicks?: number;
  logLevel?: string;
  clusterId?: string;
  extraArgs?: string[];
  /** Arguments for node itself, e.g. ['--cpu-prof'] to profile members. */
  nodeArgs?: string[];
}

export class KvDemoCluster {
  readonly host = HOST;
  readonly members = new Map<string, DemoMember>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

  private constructor(private readonly o: DemoClusterOptions) {}

  static async create(o: DemoClusterOptions): Promise<KvDemoCluster> {
    fs.mkdirSync(o.root, { recursive: true });
    const c = new KvDemoCluster(o);
    const ports = await freePorts(o.ids.length * 2, HOST);
    o.ids.forEach((id, i) => {
      c.members.set(id, {
        id,
        raftPort: ports[i * 2] as number,
        httpPort: ports[i * 2 + 1] as number,
        dataDir: path.join(o.root, id),
        proc: null,
        stderr: [],
      });
    });
    return c;
  }

  member(id: string): DemoMember {
    const m = this.members.get(id);
    if (!m) throw new Error(`no member ${id}`);
    return m;
  }

  /** Starts (or restarts, on the same ports and data dir) a member; resolves when it serves. */
  async start(id: string): Promise<void> {
    const m = this.member(id);
    if (m.proc) throw new Error(`member ${id} is running`);
    const args = [
      ...(this.o.nodeArgs ?? []),
      DEMO,
      '--id', id,
      '--cluster', this.o.clusterId ?? 'cmgr-kv',
      '--data', m.dataDir,
      '--raft', `${HOST}:${m.raftPort}`,
      '--http', `${HOST}:${m.httpPort}`,
      '--bootstrap', this.o.ids.join(','),
      '--log-level', this.o.logLevel ?? 'warn',
      '--exit-with-stdin',
      ...(this.o.tickMs ? ['--tick-ms', String(this.o.tickMs)] : []),
      ...(this.o.electionTicks ? ['--election-ticks', String(this.o.electionTicks)] : []),
      ...(this.o.extraArgs ?? []),
    ];
    for (const p of this.members.values()) if (p.id !== id) args.push('--peer', `${p.id}=${HOST}:${p.raftPort}`);
    const proc = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd: this.o.root });
    m.proc = proc;
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (s: string) => {
      for (const line of s.split('\n')) if (line.trim() !== '') m.stderr.push(line);
      if (m.stderr.length > 200) m.stderr.splice(0, m.stderr.length - 200);
    });
    proc.on('exit', () => {
      if (m.proc === proc) m.proc = null;
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`member ${id} did not start in 15 s: ${m.stderr.slice(-5).join(' | ')}`)), 15000);
      proc.stdout.setEncoding('utf8');
      proc.stdout.on('data', (s: string) => {
        out += s;
        if (out.includes('"ready":true')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`member ${id} exited during start (${code ?? signal}): ${m.stderr.slice(-5).join(' | ')}`));
      });
    });
  }

  async startAll(): Promise<void> {
    await Promise.all(this.o.ids.map((id) => this.start(id)));
  }

  /** Sends a signal (SIGKILL by default) and waits for the process to exit. */
  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const m = this.member(id);
    const proc = m.proc;
    if (!proc) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    await exited;
    m.proc = null;
  }

  async killAll(): Promise<void> {
    await Promise.all([...this.members.keys()].map((id) => this.kill(id)));
    this.agent.destroy();
  }

  /** Synchronous last resort for process 'exit' handlers. */
  killAllSync(): void {
    for (const m of this.members.values()) {
      if (m.proc && m.proc.exitCode === null) m.proc.kill('SIGKILL');
    }
  }

  async status(id: string): Promise<MemberStatus | null> {
    const m = this.member(id);
    if (!m.proc) return null;
    try {
      const r = await getJson(this.agent, HOST, m.httpPort, '/status', 2000);
      return r.status === 200 ? (JSON.parse(r.body) as MemberStatus) : null;
    } catch {
      return null;
    }
  }

  /** Waits until a running member is leader and every running member agrees on it. */
  async waitLeader(timeoutMs = 15000, exclude?: string): Promise<string> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const running = [...this.members.values()].filter((m) => m.proc);
      const st = await Promise.all(running.map((m) => this.status(m.id)));
      const leader = st.find((s) => s?.role === 'leader')?.id;
      if (leader && leader !== exclude && st.every((s) => s?.leader === leader)) return leader;
      await sleep(50);
    }
    throw new Error(`no leader within ${timeoutMs} ms`);
  }

  async dump(id: string): Promise<{ applied: number; kv: Record<string, string> }> {
    const m = this.member(id);
    const r = await getJson(this.agent, HOST, m.httpPort, '/dump', 10000);
    if (r.status !== 200) throw new Error(`dump of ${id}: HTTP ${r.status}`);
    return JSON.parse(r.body) as { applied: number; kv: Record<string, string> };
  }
}
