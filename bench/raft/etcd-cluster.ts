// A 3-member etcd (Debian etcd-server, /usr/bin/etcd) on free loopback ports in a temp dir, with its
// default durability (fsync on every WAL write), heartbeat 100 ms and election 1000 ms like ours.

import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { getJson, postJson } from '../../test/raft/kv/kv-client.js';
import { freePorts } from '../../src/launcher/ports.js';
import { setTimeout as sleep } from 'node:timers/promises';

const HOST = '127.0.0.1';

interface EtcdMember {
  name: string;
  clientPort: number;
  peerPort: number;
  proc: ChildProcess | null;
  stderr: string[];
}

export class EtcdCluster {
  readonly host = HOST;
  private readonly members: EtcdMember[] = [];
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 2 });

  constructor(
    private readonly root: string,
    private readonly binary = '/usr/bin/etcd',
  ) {}

  async start(n = 3): Promise<void> {
    const ports = await freePorts(n * 2);
    for (let i = 0; i < n; i++) {
      this.members.push({ name: `e${i + 1}`, clientPort: ports[i * 2] as number, peerPort: ports[i * 2 + 1] as number, proc: null, stderr: [] });
    }
    const initial = this.members.map((m) => `${m.name}=http://${HOST}:${m.peerPort}`).join(',');
    for (const m of this.members) {
      const args = [
        '--name', m.name,
        '--data-dir', path.join(this.root, m.name),
        '--listen-client-urls', `http://${HOST}:${m.clientPort}`,
        '--advertise-client-urls', `http://${HOST}:${m.clientPort}`,
        '--listen-peer-urls', `http://${HOST}:${m.peerPort}`,
        '--initial-advertise-peer-urls', `http://${HOST}:${m.peerPort}`,
        '--initial-cluster', initial,
        '--initial-cluster-token', 'cmgr-raft-bench',
        '--initial-cluster-state', 'new',
        '--heartbeat-interval', '100',
        '--election-timeout', '1000',
        '--logger', 'zap',
        '--log-level', 'warn',
      ];
      const proc = spawn(this.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      m.proc = proc;
      proc.stderr.setEncoding('utf8');
      proc.stderr.on('data', (s: string) => {
        m.stderr.push(s);
        if (m.stderr.length > 50) m.stderr.shift();
      });
      proc.on('exit', () => {
        m.proc = null;
      });
    }
    await this.waitHealthy(20000);
  }

  /** The client port of the current leader (asked of every member; all must agree). */
  async leaderClientPort(timeoutMs = 20000): Promise<number> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const st = await Promise.all(
        this.members.map(async (m) => {
          try {
            const r = await postJson(this.agent, HOST, m.clientPort, '/v3/maintenance/status', '{}', 2000);
            if (r.status !== 200) return null;
            const b = JSON.parse(r.body) as { header?: { member_id?: string }; leader?: string };
            return { port: m.clientPort, id: b.header?.member_id, leader: b.leader };
          } catch {
            return null;
          }
        }),
      );
      const leaderId = st[0]?.leader;
      if (leaderId && st.every((s) => s?.leader === leaderId)) {
        const l = st.find((s) => s?.id === leaderId);
        if (l) return l.port;
      }
      await sleep(100);
    }
    throw new Error(`etcd: no agreed leader within ${timeoutMs} ms: ${this.members.map((m) => m.stderr.slice(-2).join('')).join(' | ')}`);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.members.map(async (m) => {
        const p = m.proc;
        if (!p) return;
        const exited = new Promise<void>((r) => p.once('exit', () => r()));
        if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
        await exited;
      }),
    );
    this.agent.destroy();
  }

  killAllSync(): void {
    for (const m of this.members) if (m.proc && m.proc.exitCode === null) m.proc.kill('SIGKILL');
  }

  private async waitHealthy(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      for (const m of this.members) {
        if (!m.proc) throw new Error(`etcd member ${m.name} exited: ${m.stderr.slice(-3).join('')}`);
      }
      const ok = await Promise.all(
        this.members.map(async (m) => {
          try {
            const r = await getJson(this.agent, HOST, m.clientPort, '/health', 2000);
            return r.status === 200 && r.body.includes('true');
          } catch {
            return false;
          }
        }),
      );
      if (ok.every(Boolean)) return;
      await sleep(100);
    }
    throw new Error(`etcd not healthy within ${timeoutMs} ms`);
  }
}
