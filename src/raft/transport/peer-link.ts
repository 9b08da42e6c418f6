// The outbound side of one peer: a TCP connection we dial, a bounded queue, batching (everything
// queued goes out in one corked writev), and reconnect with exponential backoff and full jitter.

import net from 'node:net';
import { Packr } from 'msgpackr';
import type { RaftLogger } from '../storage/logger.js';
import { FrameDecoder, frameHeader } from './frame.js';
import { handshakeProof, HANDSHAKE_MAX_FRAME_BYTES, isHelloReply, newNonce, proofMatches, PROTOCOL_VERSION, type Hello } from './handshake.js';
import { SendQueue, type DropCount } from './send-queue.js';

export interface PeerAddress {
  host: string;
  port: number;
}

export interface PeerLinkOptions {
  self: string;
  peer: string;
  cluster: string;
  /** The group's shared secret: the peer must prove it holds it, and so do we. */
  secret: Buffer | null;
  address: PeerAddress;
  maxQueueBytes: number;
  /** Stop handing bytes to the socket past this much unsent data; the rest waits in our queue. */
  socketHighWater: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  connectTimeoutMs: number;
  logger: RaftLogger;
  onUp: (peer: string) => void;
  onDown: (peer: string) => void;
  onDrop: (peer: string, dropped: DropCount) => void;
}

export interface PeerMetrics {
  connected: boolean;
  sent: number;
  sentBytes: number;
  dropped: number;
  droppedBytes: number;
  connects: number;
  reconnects: number;
  connectFailures: number;
  queued: number;
  queuedBytes: number;
}

const control = new Packr({ useRecords: false });

export class PeerLink {
  private readonly queue: SendQueue;
  private socket: net.Socket | null = null;
  private ready = false;
  private closed = false;
  private flushScheduled = false;
  private waitingDrain = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private everConnected = false;
  private readonly m = { sent: 0, sentBytes: 0, dropped: 0, droppedBytes: 0, connects: 0, reconnects: 0, connectFailures: 0 };

  constructor(private readonly o: PeerLinkOptions) {
    this.queue = new SendQueue(o.maxQueueBytes);
  }

  start(): void {
    this.connect();
  }

  setAddress(address: PeerAddress): void {
    this.o.address = address;
    if (this.socket) this.socket.destroy(); // reconnects to the new address
  }

  /** Queues a frame; false when the queue's policy dropped it at once. */
  enqueue(payload: Buffer, critical: boolean): boolean {
    if (this.closed) return false;
    const { accepted, dropped } = this.queue.push({ payload, critical });
    if (dropped.messages > 0) this.countDrop(dropped);
    if (this.ready && !this.flushScheduled && !this.waitingDrain) {
      this.flushScheduled = true;
      // Coalesce everything sent in this turn of the event loop into one write.
      queueMicrotask(() => this.flush());
    }
    return accepted;
  }

  /** Writes what is queued now instead of at the end of this turn (before blocking on a disk sync). */
  flushNow(): void {
    if (this.ready && !this.waitingDrain && this.queue.length > 0) this.flush();
  }

  metrics(): PeerMetrics {
    return { connected: this.ready, ...this.m, queued: this.queue.length, queuedBytes: this.queue.queuedBytes };
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.socket?.destroy();
    this.socket = null;
    this.queue.clear();
  }

  private countDrop(d: DropCount): void {
    this.m.dropped += d.messages;
    this.m.droppedBytes += d.bytes;
    this.o.onDrop(this.o.peer, d);
  }

  private connect(): void {
    if (this.closed) return;
    const { host, port } = this.o.address;
    const sock = net.connect({ host, port, noDelay: true });
    this.socket = sock;
    sock.setKeepAlive(true, 5000);
    sock.setTimeout(this.o.connectTimeoutMs);
    const decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
    const hello: Hello = { t: 'hello', v: PROTOCOL_VERSION, cluster: this.o.cluster, from: this.o.self, to: this.o.peer, nonce: newNonce() };
    let challenged = false;
    sock.on('timeout', () => {
      // Only the handshake is timed: an idle established link is normal.
      if (!this.ready) sock.destroy(new Error('connect or handshake timed out'));
    });
    const send = (frame: unknown): void => {
      const payload = control.pack(frame);
      sock.write(Buffer.concat([frameHeader(payload.length), payload]));
    };
    sock.on('connect', () => send(hello));
    sock.on('data', (chunk: Buffer) => {
      if (this.ready) return; // the listener sends nothing after its welcome
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        sock.destroy(err as Error);
        return;
      }
      const first = frames[0];
      if (!first) return;
      let reply: unknown;
      try {
        reply = control.unpack(first);
      } catch {
        reply = null;
      }
      if (!isHelloReply(reply)) {
        this.o.logger.warn({ peer: this.o.peer }, 'raft transport: peer answered the handshake with garbage');
        sock.destroy();
        return;
      }
      if (reply.t === 'reject') {
        this.o.logger.warn({ peer: this.o.peer, reason: reply.reason }, 'raft transport: peer rejected our handshake');
        sock.destroy();
        return;
      }
      const secret = this.o.secret;
      if (reply.t === 'challenge') {
        // The listener proves the secret first: we answer only a member of our group.
        if (!secret || challenged || !proofMatches(handshakeProof(secret, 'listener', hello, reply.nonce), reply.proof)) {
          const why = !secret ? 'the peer requires raft_secret_file and this member has none' : 'the peer did not prove the group\'s secret (raft_secret_file)';
          this.o.logger.warn({ peer: this.o.peer, address: `${host}:${port}`, reason: why }, 'raft transport: peer refused');
          sock.destroy();
          return;
        }
        challenged = true;
        send({ t: 'auth', proof: handshakeProof(secret, 'dialer', hello, reply.nonce) });
        return;
      }
      if (secret && !challenged) {
        this.o.logger.warn({ peer: this.o.peer, address: `${host}:${port}`, reason: 'the peer welcomed us without proving the group\'s secret' }, 'raft transport: peer refused');
        sock.destroy();
        return;
      }
      sock.setTimeout(0);
      this.ready = true;
      this.attempt = 0;
      this.m.connects++;
      if (this.everConnected) this.m.reconnects++;
      this.everConnected = true;
      this.o.logger.info({ peer: this.o.peer, address: `${host}:${port}` }, 'raft transport: connected');
      sock.on('drain', () => {
        this.waitingDrain = false;
        this.flush();
      });
      this.o.onUp(this.o.peer);
      this.flush();
    });
    sock.on('error', (err) => {
      this.o.logger.debug({ peer: this.o.peer, err: err.message }, 'raft transport: connection error');
    });
    sock.on('close', () => {
      if (this.socket === sock) this.socket = null;
      const wasReady = this.ready;
      this.ready = false;
      this.waitingDrain = false;
      if (!wasReady) this.m.connectFailures++;
      if (wasReady) this.o.onDown(this.o.peer);
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const cap = Math.min(this.o.backoffMaxMs, this.o.backoffMinMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    // Full jitter keeps members that lost a peer together from redialing in lockstep.
    const delay = cap / 2 + Math.random() * (cap / 2);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }

  private flush(): void {
    this.flushScheduled = false;
    const sock = this.socket;
    if (!this.ready || !sock || this.waitingDrain) return;
    if (this.queue.length === 0) return;
    sock.cork();
    let f = this.queue.shift();
    while (f) {
      sock.write(frameHeader(f.payload.length));
      sock.write(f.payload);
      this.m.sent++;
      this.m.sentBytes += f.payload.length + 4;
      if (sock.writableLength >= this.o.socketHighWater) break;
      f = this.queue.shift();
    }
    sock.uncork();
    if (sock.writableLength >= this.o.socketHighWater) this.waitingDrain = true;
    else if (this.queue.length > 0) this.flush();
  }
}
