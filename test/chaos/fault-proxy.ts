// A fault-injecting TCP proxy on a loopback port: put it between the manager and one node to break
// only that path (the node's replicas still reach it directly). Modes apply to traffic from the moment
// they are set:
//   pass       forward both ways
//   drop       reset new connections at once (existing ones keep working)
//   blackhole  accept new connections and never answer; existing ones stall (bytes are held, as a
//              partition holds TCP segments, and flow again when the mode returns to pass)
//   latency    forward both ways, each chunk delayed by `ms` (order kept)
// and cutExisting() resets every open connection, like a middlebox dropping its state.
import net from 'node:net';
import type { Endpoint } from '../../src/storage-node/replication.js';

export type FaultMode = { kind: 'pass' } | { kind: 'drop' } | { kind: 'blackhole' } | { kind: 'latency'; ms: number };

export interface FaultProxyOptions {
  target: Endpoint;
  host?: string;
  /** Default: a free port. */
  port?: number;
}

export interface FaultProxyStats {
  accepted: number;
  active: number;
  dropped: number;
  cut: number;
  bytesUp: number;
  bytesDown: number;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket | null;
  /** Chunks held back while stalled, per direction. */
  heldUp: Buffer[];
  heldDown: Buffer[];
  /** Delayed chunks per direction, in order, each with the time it is due. */
  queueUp: Array<{ due: number; chunk: Buffer }>;
  queueDown: Array<{ due: number; chunk: Buffer }>;
  timerUp: NodeJS.Timeout | null;
  timerDown: NodeJS.Timeout | null;
}

export class FaultProxy {
  private mode: FaultMode = { kind: 'pass' };
  private readonly pairs = new Set<Pair>();
  private readonly counters = { accepted: 0, dropped: 0, cut: 0, bytesUp: 0, bytesDown: 0 };

  private constructor(
    private readonly server: net.Server,
    readonly host: string,
    readonly port: number,
    readonly target: Endpoint,
  ) {}

  static async start(o: FaultProxyOptions): Promise<FaultProxy> {
    const host = o.host ?? '127.0.0.1';
    let proxy: FaultProxy | null = null;
    const server = net.createServer({ noDelay: true }, (sock) => proxy?.accept(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address() as net.AddressInfo;
    proxy = new FaultProxy(server, host, addr.port, o.target);
    return proxy;
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  get endpoint(): Endpoint {
    return { host: this.host, port: this.port };
  }

  get current(): FaultMode {
    return this.mode;
  }

  get stats(): FaultProxyStats {
    return { ...this.counters, active: this.pairs.size };
  }

  setMode(m: FaultMode): void {
    if (m.kind === 'latency' && (!Number.isFinite(m.ms) || m.ms < 0)) throw new RangeError(`latency ms must be >= 0, got ${m.ms}`);
    const wasBlackhole = this.mode.kind === 'blackhole';
    this.mode = m;
    if (wasBlackhole && m.kind !== 'blackhole') {
      for (const p of this.pairs) this.release(p);
    }
  }

  /** Resets every open connection; returns how many. */
  cutExisting(): number {
    const n = this.pairs.size;
    for (const p of [...this.pairs]) this.destroy(p, true);
    this.counters.cut += n;
    return n;
  }

  async close(): Promise<void> {
    for (const p of [...this.pairs]) this.destroy(p, false);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.counters.accepted++;
    client.on('error', () => undefined);
    if (this.mode.kind === 'drop') {
      this.counters.dropped++;
      client.resetAndDestroy();
      return;
    }
    const p: Pair = { client, upstream: null, heldUp: [], heldDown: [], queueUp: [], queueDown: [], timerUp: null, timerDown: null };
    this.pairs.add(p);
    client.on('close', () => this.destroy(p, false));
    if (this.mode.kind === 'blackhole') {
      // Accepted, never answered: the client's handshake waits until its own timeout.
      client.on('data', () => undefined);
      return;
    }
    const up = net.connect({ host: this.target.host, port: this.target.port, noDelay: true });
    p.upstream = up;
    up.on('error', () => this.destroy(p, true));
    up.on('close', () => this.destroy(p, false));
    client.on('data', (chunk) => this.forward(p, chunk, 'up'));
    up.on('data', (chunk) => this.forward(p, chunk, 'down'));
  }

  private forward(p: Pair, chunk: Buffer, dir: 'up' | 'down'): void {
    const to = dir === 'up' ? p.upstream : p.client;
    if (!to) return;
    if (dir === 'up') this.counters.bytesUp += chunk.length;
    else this.counters.bytesDown += chunk.length;
    const m = this.mode;
    if (m.kind === 'blackhole') {
      (dir === 'up' ? p.heldUp : p.heldDown).push(chunk);
      return;
    }
    this.emit(p, dir, chunk, m.kind === 'latency' ? m.ms : 0);
  }

  private emit(p: Pair, dir: 'up' | 'down', chunk: Buffer, delay: number): void {
    const to = dir === 'up' ? p.upstream : p.client;
    // Chunks still delayed from an earlier latency setting go first, so order is kept across changes.
    const q = dir === 'up' ? p.queueUp : p.queueDown;
    if (delay === 0 && q.length === 0) {
      if (to && !to.destroyed) to.write(chunk);
      return;
    }
    q.push({ due: Date.now() + delay, chunk });
    this.pump(p, dir);
  }

  /** Writes the due chunks of one direction and schedules one timer for the next. */
  private pump(p: Pair, dir: 'up' | 'down'): void {
    const q = dir === 'up' ? p.queueUp : p.queueDown;
    const to = dir === 'up' ? p.upstream : p.client;
    if ((dir === 'up' ? p.timerUp : p.timerDown) !== null) return;
    // A stalled path holds delayed chunks too; release() starts the pump again.
    if (this.mode.kind === 'blackhole') return;
    while (q.length > 0 && q[0]!.due <= Date.now()) {
      const { chunk } = q.shift()!;
      if (to && !to.destroyed) to.write(chunk);
    }
    if (q.length === 0) return;
    const t = setTimeout(() => {
      if (dir === 'up') p.timerUp = null;
      else p.timerDown = null;
      this.pump(p, dir);
    }, Math.max(0, q[0]!.due - Date.now()));
    if (dir === 'up') p.timerUp = t;
    else p.timerDown = t;
  }

  private release(p: Pair): void {
    for (const c of p.heldUp.splice(0)) this.emit(p, 'up', c, 0);
    for (const c of p.heldDown.splice(0)) this.emit(p, 'down', c, 0);
    this.pump(p, 'up');
    this.pump(p, 'down');
  }

  private destroy(p: Pair, reset: boolean): void {
    if (!this.pairs.delete(p)) return;
    if (p.timerUp) clearTimeout(p.timerUp);
    if (p.timerDown) clearTimeout(p.timerDown);
    for (const s of [p.client, p.upstream]) {
      if (!s || s.destroyed) continue;
      if (reset) s.resetAndDestroy();
      else s.destroy();
    }
  }
}
