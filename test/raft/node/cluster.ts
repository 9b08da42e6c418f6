// In-process groups of RaftNodes over real TCP on loopback, with fast ticks, for the driver tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RaftNode, type RaftNodeOptions } from '../../../src/raft/node/index.js';
import { KvStateMachine, encodePut } from '../kv/kv-state-machine.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Member {
  id: string;
  node: RaftNode;
  sm: KvStateMachine;
  dataDir: string;
  port: number;
}

export interface Cluster {
  members: Map<string, Member>;
  root: string;
  start(id: string, extra?: Partial<RaftNodeOptions>): Promise<Member>;
  stop(id: string): Promise<void>;
  leader(): Member | undefined;
  waitLeader(ms?: number, exclude?: string): Promise<Member>;
  close(): Promise<void>;
}

export const FAST = { tickMs: 20, electionTicks: 10, heartbeatTicks: 1 };

export async function until(what: string, cond: () => boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function put(key: string, value: string): Uint8Array {
  return encodePut(key, Buffer.from(value));
}

/** Starts `ids` as a new group (bootstrap) with fast timers; extra options apply to every member. */
export async function makeCluster(
  t: { teardown: (fn: () => unknown) => void },
  ids: string[],
  extra: Partial<RaftNodeOptions> = {},
): Promise<Cluster> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cmgr-raft-node-'));
  const members = new Map<string, Member>();
  const ports = new Map<string, number>();
  const cluster: Cluster = {
    members,
    root,
    async start(id, more = {}) {
      const sm = new KvStateMachine();
      const dataDir = path.join(root, id);
      const peers: Record<string, { host: string; port: number }> = {};
      for (const [pid, port] of ports) if (pid !== id) peers[pid] = { host: '127.0.0.1', port };
      const node = await RaftNode.start({
        id,
        clusterId: 'test',
        dataDir,
        listen: { host: '127.0.0.1', port: ports.get(id) ?? 0 },
        peers,
        bootstrap: ids,
        stateMachine: sm,
        ...FAST,
        ...extra,
        ...more,
      });
      ports.set(id, node.port);
      for (const m of members.values()) if (m.id !== id) m.node.setPeerAddress(id, { host: '127.0.0.1', port: node.port });
      const member = { id, node, sm, dataDir, port: node.port };
      members.set(id, member);
      return member;
    },
    async stop(id) {
      const m = members.get(id);
      if (!m) return;
      members.delete(id);
      await m.node.stop();
    },
    leader() {
      for (const m of members.values()) if (m.node.isLeader) return m;
      return undefined;
    },
    async waitLeader(ms = 8000, exclude) {
      let found: Member | undefined;
      await until('a leader', () => {
        found = [...members.values()].find((m) => m.node.isLeader && m.id !== exclude);
        return found !== undefined;
      }, ms);
      return found as Member;
    },
    async close() {
      for (const m of [...members.values()]) await m.node.stop();
      members.clear();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  t.teardown(() => cluster.close());
  for (const id of ids) await cluster.start(id);
  return cluster;
}
