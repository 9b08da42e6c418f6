// One StorageNode (a small mysql2 pool) per storage node id, made from what the world knows of the
// node and the configured account; re-made when the node's address changes. Probers keep their
// IO-progress memory per node across probe rounds.
import type { NodeView } from '../actors/index.js';
import { NodeProber } from '../storage-node/probe.js';
import { StorageNode } from '../storage-node/storage-node.js';
import type { HaSettings } from './settings.js';

interface Entry {
  node: StorageNode;
  prober: NodeProber;
}

export class NodePool {
  private readonly entries = new Map<number, Entry>();

  constructor(private readonly s: HaSettings) {}

  private entry(v: Pick<NodeView, 'id' | 'hostaddr' | 'port'>): Entry {
    const cur = this.entries.get(v.id);
    if (cur && cur.node.host === v.hostaddr && cur.node.port === v.port) return cur;
    if (cur) void cur.node.close().catch(() => undefined);
    const via = this.s.connectMap.get(`${v.hostaddr}:${v.port}`);
    const node = new StorageNode({
      id: String(v.id),
      host: v.hostaddr,
      port: v.port,
      ...(via ? { via } : {}),
      user: this.s.storage.user,
      password: this.s.storage.password,
      connectTimeoutMs: Math.min(1_000, this.s.probeTimeoutMs),
      queryTimeoutMs: 2_000,
      poolSize: 4,
    });
    const e = { node, prober: new NodeProber(node, { deadlineMs: this.s.probeTimeoutMs }) };
    this.entries.set(v.id, e);
    return e;
  }

  node(v: Pick<NodeView, 'id' | 'hostaddr' | 'port'>): StorageNode {
    return this.entry(v).node;
  }

  prober(v: Pick<NodeView, 'id' | 'hostaddr' | 'port'>): NodeProber {
    return this.entry(v).prober;
  }

  /** Forgets nodes the world no longer has. */
  retain(ids: ReadonlySet<number>): void {
    for (const [id, e] of this.entries) {
      if (ids.has(id)) continue;
      this.entries.delete(id);
      void e.node.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => e.node.close().catch(() => undefined)));
  }
}
