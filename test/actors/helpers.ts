// Small builders shared by the actor tests.
import type { Evidence } from '../../src/events/catalog.js';
import { encodeBatch } from '../../src/events/codec.js';
import type { Cause } from '../../src/events/envelope.js';
import type { Command, CommandResult } from '../../src/actors/commands/index.js';
import { checkCommand } from '../helpers/job-catalog.js';
import type { ApplyResult, World } from '../../src/actors/world.js';

export const USER: Cause = { user: 'kunlun_test' };
export const T0 = 1_764_000_000_000;
export const ev0: Evidence = { observer: 'm1', summary: 'test', facts: {} };

/** A tiny "leader": checks commands at a clock that moves, and applies what passes. */
export class Leader {
  at = T0;
  index = 0;

  constructor(readonly world: World) {}

  check(cmd: Command, cause: Cause = USER): CommandResult {
    this.at += 1000;
    return checkCommand(this.world, cmd, { at: this.at, cause });
  }

  /** Checks and applies; throws if refused at either step (for setting up a scene). */
  must(cmd: Command, cause: Cause = USER): ApplyResult & { ok: true } {
    const r = this.check(cmd, cause);
    if (!r.ok) throw new Error(`${cmd.kind} refused: ${r.code} ${r.reason}`);
    const a = this.world.applyEntry(++this.index, encodeBatch(r.events));
    if (!a.ok) throw new Error(`${cmd.kind} refused at apply: ${a.reason}`);
    return a;
  }

  machines(n: number, role: 'storage' | 'computer' = 'storage', prefix = role === 'storage' ? '10.0.0.' : '10.1.0.'): string[] {
    const hosts: string[] = [];
    for (let i = 1; i <= n; i++) {
      const hostaddr = `${prefix}${i}`;
      hosts.push(hostaddr);
      if (role === 'storage') {
        this.must({ kind: 'machine.create', hostaddr, role, rackId: '1', datadir: '/d', logdir: '/l', walLogDir: '/w', totalMemMB: 1024, totalCpuCores: 4 });
      } else {
        this.must({ kind: 'machine.create', hostaddr, role, rackId: '1', compDatadir: '/c', totalMemMB: 1024, totalCpuCores: 4 });
      }
    }
    return hosts;
  }

  /** A shard of 3 nodes on 10.0.0.1-3 at `port`: active, alive, the first primary and writable, in use. */
  shard(cluster: number, port: number): number {
    const r = this.must({ kind: 'shard.add', cluster, nodes: [1, 2, 3].map((i) => ({ hostaddr: `10.0.0.${i}`, port })) });
    const shard = Number(r.committed[0]!.event.agg.slice(6));
    const nodes = this.world.nodesOf(shard);
    for (const n of nodes) {
      this.must({ kind: 'node.set_status', node: n, status: 'active' });
      this.must({ kind: 'node.set_health', node: n, health: 'alive', evidence: ev0 });
    }
    this.must({ kind: 'shard.set_primary', shard, node: nodes[0]!, term: 1 });
    this.must({ kind: 'node.set_access', node: nodes[0]!, access: 'writable' });
    this.must({ kind: 'shard.set_status', shard, status: 'inuse' });
    return shard;
  }

  /** A cluster with `shards` shards of 3 nodes (first node primary, writable, all alive) and one comp. */
  cluster(shards = 2): { cluster: number; shards: number[] } {
    if (this.world.machine('10.0.0.1') === null) {
      this.machines(3);
      this.machines(1, 'computer');
    }
    const created = this.must({ kind: 'cluster.create', haMode: 'rbr', maxStorageSizeGB: 20, maxConnections: 6, cpuCores: 8, innodbSizeMB: 128, compPassword: 'pw' });
    const cluster = Number(created.committed[0]!.event.agg.slice(8));
    const ids: number[] = [];
    for (let s = 0; s < shards; s++) ids.push(this.shard(cluster, 57000 + 4 * this.world.count('shard')));
    this.must({ kind: 'comp.add', cluster, hostaddr: '10.1.0.1', port: 47000 + 3 * this.world.count('comp') });
    this.must({ kind: 'cluster.set_status', cluster, status: 'inuse' });
    return { cluster, shards: ids };
  }
}
