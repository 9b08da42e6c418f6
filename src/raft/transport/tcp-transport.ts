// TCP transport between the members of one Raft group. Each member listens on one port and dials
// every peer; a connection carries messages one way only (dialer -> listener), which keeps ordering
// and backpressure per direction simple. Messages are msgpack-encoded, one length-prefixed frame each.

import net from 'node:net';
import { Packr } from 'msgpackr';
import { LogRateLimit } from '../../log/rate-limit.js';
import { silentLogger, type RaftLogger } from '../storage/logger.js';
import { FrameDecoder, frameHeader } from './frame.js';
import {
  checkHello, handshakeProof, HANDSHAKE_MAX_FRAME_BYTES, isAuth, isHello, newNonce, proofMatches, type Hello, type HelloReply,
} from './handshake.js';
import { PeerLink, type PeerAddress, type PeerMetrics } from './peer-link.js';
import type { DropCount } from './send-queue.js';

/** How messages become frame payloads and back. The default is msgpack. */
export interface MessageCodec<M> {
  encode(msg: M): Buffer;
  /** Throws on a malformed payload (the connection is then closed). */
  decode(payload: Buffer): unknown;
}

export function msgpackCodec<M>(): MessageCodec<M> {
  const packr = new Packr({ useRecords: false });
  // copyBuffers: a decoded payload must not pin the socket chunk it arrived in (entries stay in memory).
  const unpackr = new Packr({ useRecords: false, copyBuffers: true });
  return { encode: (m) => packr.pack(m), decode: (b) => unpackr.unpack(b) as unknown };
}

export interface TcpTransportOptions<M> {
  /** This member's id. */
  id: string;
  /** Every connection must present this id: members of different clusters never talk. */
  clusterId: string;
  listen: PeerAddress;
  peers?: Record<string, PeerAddress>;
  /** Called for every decoded message from a peer. */
  onMessage: (from: string, msg: M) => void;
  /** Message encoding (default msgpack). Handshake frames are always msgpack. */
  codec?: MessageCodec<M>;
  /** Critical messages are kept over others when a peer's queue is full. Default: none. */
  isCritical?: (msg: M) => boolean;
  /** Per-peer outbound queue limit (default 16 MiB). */
  maxQueueBytes?: number;
  /**
   * Largest frame sent to or accepted from an authenticated peer (default 64 MiB, config
   * raft_max_message_mb: a snapshot travels whole, in one message). Before the handshake is done a peer
   * may send only HANDSHAKE_MAX_FRAME_BYTES.
   */
  maxFrameBytes?: number;
  /**
   * The group's shared secret: peers must prove they hold it (HMAC challenge, both ways) before any
   * Raft message is taken or sent. Without it only the cluster id is checked.
   */
  secret?: Buffer | null;
  socketHighWater?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  connectTimeoutMs?: number;
  /** Called when a link comes up or goes down, and when messages are dropped. */
  onPeerUp?: (peer: string) => void;
  onPeerDown?: (peer: string) => void;
  onDrop?: (peer: string, dropped: DropCount) => void;
  logger?: RaftLogger;
}

export interface TransportMetrics {
  sent: number;
  sentBytes: number;
  dropped: number;
  droppedBytes: number;
  reconnects: number;
  received: number;
  receivedBytes: number;
  rejectedConnections: number;
  malformedFrames: number;
  peers: Record<string, PeerMetrics>;
}

interface Inbound {
  socket: net.Socket;
  /** Set once the peer is welcomed: its frames are Raft messages from then on. */
  from: string | null;
  closing: boolean;
  /** The hello and our nonce while we wait for the peer's proof. */
  pending: { hello: Hello; nonce: Buffer } | null;
  decoder: FrameDecoder;
}

export class TcpTransport<M> {
  private readonly links = new Map<string, PeerLink>();
  private readonly inbound = new Set<Inbound>();
  private readonly server: net.Server;
  private readonly packr = new Packr({ useRecords: false });
  private readonly codec: MessageCodec<M>;
  private readonly logger: RaftLogger;
  private readonly isCritical: (msg: M) => boolean;
  private readonly maxFrameBytes: number;
  /** When an oversized message to each peer was last logged. */
  private readonly oversizeLogged = new Map<string, number>();
  private stopped = false;
  private boundPort = 0;
  private readonly m = { received: 0, receivedBytes: 0, rejectedConnections: 0, malformedFrames: 0 };
  /** Refused connections are logged at most a few times a minute per remote address. */
  private readonly refusals = new LogRateLimit();

  constructor(private readonly o: TcpTransportOptions<M>) {
    this.logger = o.logger ?? silentLogger;
    this.codec = o.codec ?? msgpackCodec<M>();
    this.isCritical = o.isCritical ?? (() => false);
    this.maxFrameBytes = o.maxFrameBytes ?? 64 * 1024 * 1024;
    this.server = net.createServer({ noDelay: true }, (s) => this.accept(s));
  }

  /** Starts listening and dialing peers; resolves with the bound port (useful with port 0). */
  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.listen.port, this.o.listen.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (this.server.address() as net.AddressInfo).port;
    for (const [id, addr] of Object.entries(this.o.peers ?? {})) this.addPeer(id, addr);
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  addPeer(id: string, address: PeerAddress): void {
    if (id === this.o.id || this.stopped) return;
    const existing = this.links.get(id);
    if (existing) {
      existing.setAddress(address);
      return;
    }
    const link = new PeerLink({
      self: this.o.id,
      peer: id,
      cluster: this.o.clusterId,
      secret: this.o.secret ?? null,
      address,
      maxQueueBytes: this.o.maxQueueBytes ?? 16 * 1024 * 1024,
      socketHighWater: Math.max(this.o.socketHighWater ?? 1024 * 1024, 64 * 1024),
      backoffMinMs: this.o.backoffMinMs ?? 50,
      backoffMaxMs: this.o.backoffMaxMs ?? 2000,
      connectTimeoutMs: this.o.connectTimeoutMs ?? 3000,
      logger: this.logger,
      onUp: (p) => this.o.onPeerUp?.(p),
      onDown: (p) => this.o.onPeerDown?.(p),
      onDrop: (p, d) => this.o.onDrop?.(p, d),
    });
    this.links.set(id, link);
    link.start();
  }

  removePeer(id: string): void {
    this.links.get(id)?.close();
    this.links.delete(id);
  }

  hasPeer(id: string): boolean {
    return this.links.has(id);
  }

  /**
   * Queues a message for a peer; never blocks, never throws for a slow or dead peer. Returns false
   * when the message was dropped at once (unknown peer, or its queue is full).
   */
  send(to: string, msg: M): boolean {
    const link = this.links.get(to);
    if (!link) {
      this.logger.debug({ to }, 'raft transport: message for an unknown peer dropped');
      return false;
    }
    const payload = this.codec.encode(msg);
    // The peer would refuse it and drop the connection; say why here instead (once a minute per peer:
    // a snapshot is offered again and again).
    if (payload.length > this.maxFrameBytes) {
      const now = Date.now();
      if (now - (this.oversizeLogged.get(to) ?? -Infinity) < 60_000) return false;
      this.oversizeLogged.set(to, now);
      this.logger.error({ to, bytes: payload.length, limit: this.maxFrameBytes }, 'raft transport: message larger than raft_max_message_mb not sent (raise it above the snapshot size on every member)');
      return false;
    }
    return link.enqueue(payload, this.isCritical(msg));
  }

  /**
   * Hands everything queued to the sockets now. Sends are otherwise coalesced until the end of the
   * current turn of the event loop; call this before blocking the loop (an inline fsync).
   */
  flush(): void {
    for (const link of this.links.values()) link.flushNow();
  }

  metrics(): TransportMetrics {
    const peers: Record<string, PeerMetrics> = {};
    const t = { sent: 0, sentBytes: 0, dropped: 0, droppedBytes: 0, reconnects: 0 };
    for (const [id, link] of this.links) {
      const pm = link.metrics();
      peers[id] = pm;
      t.sent += pm.sent;
      t.sentBytes += pm.sentBytes;
      t.dropped += pm.dropped;
      t.droppedBytes += pm.droppedBytes;
      t.reconnects += pm.reconnects;
    }
    return { ...t, ...this.m, peers };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const link of this.links.values()) link.close();
    this.links.clear();
    for (const c of this.inbound) c.socket.destroy();
    this.inbound.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    const decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
    const conn: Inbound = { socket, from: null, closing: false, pending: null, decoder };
    this.inbound.add(conn);
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.setKeepAlive(true, 5000);
    socket.setTimeout(this.o.connectTimeoutMs ?? 3000, () => {
      if (conn.from === null) this.closeInbound(conn, remote, 'no handshake in time');
    });
    socket.on('data', (chunk: Buffer) => {
      if (conn.closing) return;
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        this.m.malformedFrames++;
        this.closeInbound(conn, remote, (err as Error).message);
        return;
      }
      for (const frame of frames) {
        if (conn.closing) return;
        let msg: unknown;
        try {
          msg = conn.from === null ? this.packr.unpack(frame) : this.codec.decode(frame);
        } catch (err) {
          this.m.malformedFrames++;
          this.closeInbound(conn, remote, `undecodable frame: ${(err as Error).message}`);
          return;
        }
        if (conn.from === null) {
          if (conn.pending === null) this.handshake(conn, remote, msg);
          else this.authenticate(conn, remote, msg);
          continue;
        }
        this.m.received++;
        this.m.receivedBytes += frame.length + 4;
        this.o.onMessage(conn.from, msg as M);
      }
    });
    socket.on('error', (err) => this.logger.debug({ remote, err: err.message }, 'raft transport: inbound connection error'));
    socket.on('close', () => {
      // A member with another secret sees our proof fail and hangs up without answering.
      if (conn.pending !== null && !conn.closing) {
        this.m.rejectedConnections++;
        this.closeInbound(conn, remote, `member "${conn.pending.hello.from}" did not prove the group's secret (raft_secret_file): it hung up on our challenge`);
      }
      this.inbound.delete(conn);
    });
  }

  private handshake(conn: Inbound, remote: string, msg: unknown): void {
    if (!isHello(msg)) {
      this.m.malformedFrames++;
      this.closeInbound(conn, remote, 'first frame is not a handshake');
      return;
    }
    const why = checkHello(msg, this.o.clusterId, this.o.id);
    if (why !== null) {
      this.refuse(conn, remote, why);
      return;
    }
    if (this.o.secret) {
      const nonce = newNonce();
      conn.pending = { hello: msg, nonce };
      this.reply(conn.socket, { t: 'challenge', nonce, proof: handshakeProof(this.o.secret, 'listener', msg, nonce) });
      return;
    }
    this.welcome(conn, remote, msg.from);
  }

  /** The dialer's answer to our challenge. */
  private authenticate(conn: Inbound, remote: string, msg: unknown): void {
    const { hello, nonce } = conn.pending!;
    if (!isAuth(msg) || !proofMatches(handshakeProof(this.o.secret!, 'dialer', hello, nonce), msg.proof)) {
      // The reason names no secret; the peer learns only that it was refused.
      this.refuse(conn, remote, `member "${hello.from}" did not prove the group's secret (raft_secret_file)`);
      return;
    }
    conn.pending = null;
    this.welcome(conn, remote, hello.from);
  }

  private refuse(conn: Inbound, remote: string, why: string): void {
    this.m.rejectedConnections++;
    this.reply(conn.socket, { t: 'reject', reason: why });
    this.closeInbound(conn, remote, `handshake rejected: ${why}`, true);
  }

  private welcome(conn: Inbound, remote: string, from: string): void {
    conn.from = from;
    conn.decoder.setMaxFrameBytes(this.maxFrameBytes);
    conn.socket.setTimeout(0);
    // A peer that reconnected may leave its previous connection half-open: keep only the newest.
    for (const other of this.inbound) {
      if (other !== conn && other.from === from) this.closeInbound(other, remote, 'replaced by a newer connection from the same peer');
    }
    this.reply(conn.socket, { t: 'welcome' });
  }

  private reply(socket: net.Socket, r: HelloReply): void {
    const payload = this.packr.pack(r);
    socket.write(frameHeader(payload.length));
    socket.write(payload);
  }

  private closeInbound(conn: Inbound, remote: string, reason: string, graceful = false): void {
    if (conn.closing) return;
    conn.closing = true;
    const r = this.refusals.take(remote.slice(0, remote.lastIndexOf(':')));
    if (r.log) {
      this.logger.warn({ remote, peer: conn.from, reason, ...(r.suppressed ? { suppressed: r.suppressed } : {}) }, 'raft transport: closing inbound connection');
    }
    this.inbound.delete(conn);
    // Let a reject reach the dialer before closing; anything else is cut at once.
    if (graceful) conn.socket.end();
    else conn.socket.destroy();
  }
}
