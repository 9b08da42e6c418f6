// node_mgr's "auto pull-up": every interval, an installed instance that should run but whose server
// process is gone is started again once it has been seen down for the restart delay (node_mgr restarts a
// killed server about 9 s later; the manager fails a dead primary over well within that, so the old
// primary comes back as a replica rather than racing the failover), at most once per back-off period.
// It skips an instance that is stopped on purpose, one whose keepalive is switched off (a fenced old
// primary must stay down until the manager says otherwise), and one a job is working on. A hung
// (SIGSTOPped) server is alive: it is not restarted, since two servers on one data dir would be worse
// than one that hangs.
import type { Logger } from '../log/logger.js';
import { livePid, startExisting } from './instances.js';
import type { PortLocks } from './port-locks.js';
import type { InstanceRecord, Registry } from './registry.js';

export interface KeepaliveHost {
  registry: Registry;
  locks: PortLocks;
  log: Logger;
  enabled: boolean;
  intervalMs: number;
  restartDelayMs: number;
  backoffMs: number;
  osUser: string;
  startTimeoutMs: number;
}

export class Keepalive {
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<void> | null = null;
  private stopped = false;
  private readonly lastAttempt = new Map<number, number>();
  /** When each instance was first seen down (cleared when it runs again). */
  private readonly downSince = new Map<number, number>();

  constructor(private readonly host: KeepaliveHost) {}

  start(): void {
    if (!this.host.enabled) {
      this.host.log.info('keepalive is switched off (keepalive = false)');
      return;
    }
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.current;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.current = this.tick().finally(() => {
        this.current = null;
        this.schedule(this.host.intervalMs);
      });
    }, ms);
  }

  private wanted(rec: InstanceRecord | undefined): rec is InstanceRecord {
    return rec !== undefined && rec.phase === 'installed' && rec.desired === 'running' && rec.keepalive;
  }

  /** One pass over every instance. */
  async tick(): Promise<void> {
    const { registry, locks, log } = this.host;
    for (const rec of registry.all()) {
      if (this.stopped) return;
      if (!this.wanted(rec) || locks.busy(rec.port) || livePid(rec) !== null) {
        this.downSince.delete(rec.port);
        continue;
      }
      const now = Date.now();
      const since = this.downSince.get(rec.port) ?? now;
      this.downSince.set(rec.port, since);
      if (now - since < this.host.restartDelayMs) continue;
      const last = this.lastAttempt.get(rec.port) ?? 0;
      if (now - last < this.host.backoffMs) continue;
      this.lastAttempt.set(rec.port, Date.now());
      await locks.run(rec.port, async () => {
        // Look again under the lock: a job may have changed the instance meanwhile.
        const now = registry.get(rec.port);
        if (!this.wanted(now) || livePid(now) !== null) return;
        log.warn({ port: now.port, type: now.kind, last_pid: now.pid }, 'instance is down; keepalive restarts it');
        try {
          const pid = await startExisting(now, this.host.osUser, this.host.startTimeoutMs);
          registry.update(now.port, { pid, restarts: now.restarts + 1, lastRestartAt: new Date().toISOString(), recoverAsReplica: false });
          log.info({ port: now.port, type: now.kind, pid, as_replica: now.recoverAsReplica === true }, 'keepalive restarted the instance');
        } catch (e) {
          log.error({ port: now.port, type: now.kind, err: e }, 'keepalive could not restart the instance');
        }
      });
    }
  }
}
