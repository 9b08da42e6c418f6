// Current state of aggregates for NATS subscribers: when an aggregate changes, the leader publishes
// its view (secrets are never part of views) on <prefix>.status.<kind>.<id>. Core NATS, not JetStream:
// a subscriber wants the latest state, the history is in the event stream.
import { connect, type NatsConnection, type ConnectionOptions } from 'nats';
import type { World } from '../actors/index.js';
import type { Logger } from '../log/logger.js';
import { DEFAULT_PREFIX, statusSubject } from './subjects.js';

export class StatusPublisher {
  private nc: NatsConnection | null = null;
  private connecting: Promise<void> | null = null;
  private readonly enc = new TextEncoder();

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    private readonly prefix = DEFAULT_PREFIX,
    private readonly auth: Partial<ConnectionOptions> = {},
  ) {}

  /** Publishes the current view of each changed aggregate; never throws, never blocks the caller. */
  publish(world: World, aggs: Iterable<string>): void {
    const msgs: [string, unknown][] = [];
    for (const agg of aggs) {
      const slash = agg.indexOf('/');
      if (slash < 0) continue;
      const kind = agg.slice(0, slash);
      const key = agg.slice(slash + 1);
      const view = viewOf(world, kind, key);
      msgs.push([statusSubject(this.prefix, kind, key), view ?? { removed: true }]);
    }
    if (msgs.length === 0) return;
    void this.send(msgs);
  }

  async close(): Promise<void> {
    const nc = this.nc;
    this.nc = null;
    if (nc) await nc.close().catch(() => undefined);
  }

  private async send(msgs: [string, unknown][]): Promise<void> {
    try {
      if (!this.nc || this.nc.isClosed()) {
        this.connecting ??= connect({ ...this.auth, servers: this.url, timeout: 2_000, reconnect: true, maxReconnectAttempts: -1, name: 'cluster_mgr-status' })
          .then((nc) => {
            this.nc = nc;
          })
          .finally(() => {
            this.connecting = null;
          });
        await this.connecting;
      }
      for (const [subject, body] of msgs) this.nc!.publish(subject, this.enc.encode(JSON.stringify(body)));
    } catch (e) {
      this.log.debug({ err: e }, 'status publish skipped: NATS unreachable');
    }
  }
}

function viewOf(world: World, kind: string, key: string): unknown {
  const n = Number(key);
  switch (kind) {
    case 'machine':
      return world.machine(key);
    case 'cluster':
      return world.cluster(n);
    case 'shard':
      return world.shard(n);
    case 'node':
      return world.node(n);
    case 'comp':
      return world.comp(n);
    case 'job':
      return world.job(n);
    case 'manager':
      return world.manager(key);
    case 'backup_storage':
      return world.backupStorage(key);
    default:
      return null;
  }
}
