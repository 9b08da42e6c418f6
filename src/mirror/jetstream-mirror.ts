// The leader mirrors every committed event to a JetStream stream, in log order, exactly once:
// - message id "<index>-<pos>" (JetStream drops a repeat inside its duplicate window), and
// - every publish expects the stream's last sequence, so a deposed leader that still publishes
//   cannot interleave with the new one, and a restart resumes from the stream's last message.
// Events are redacted before they leave the manager. If NATS is down the manager keeps working and
// the mirror catches up from the Raft log when it is back.
import { connect, headers as natsHeaders, type JetStreamClient, type JetStreamManager, type NatsConnection, type MsgHdrs, type ConnectionOptions } from 'nats';
import { splitBatch, decodeEvent, redactRaw, chainHash, hashableBytes, GENESIS_HASH, encodeCanonical, hasSecrets, decodeMsgpack } from '../events/index.js';
import type { Logger } from '../log/logger.js';
import { eventSubject, H, DEFAULT_PREFIX } from './subjects.js';

export interface CommittedEntry {
  index: number;
  term: number;
  kind: 'normal' | 'conf' | 'noop';
  data: Uint8Array;
}

/** Where the mirror reads committed entries from (the member's Raft log). */
export interface EntrySource {
  /** Entries from `from` on (at most `max`), all committed and applied; 'compacted' if `from` is gone. */
  read(from: number, max: number): CommittedEntry[] | 'compacted';
  /** Highest index applied on this member. */
  appliedIndex(): number;
}

export interface MirrorOptions {
  url: string;
  /** user/password or creds (natsAuthOptions). */
  auth?: Partial<ConnectionOptions>;
  stream: string;
  prefix?: string;
  log: Logger;
  source: EntrySource;
  /** Duplicate window of the stream, ms. */
  duplicateWindowMs?: number;
  /** Publishes in flight at once. */
  window?: number;
}

export interface MirrorStatus {
  connected: boolean;
  /** Last Raft index whose events are all in the stream. */
  mirroredIndex: number;
  streamSeq: number;
  lastError: string | null;
  gaps: number;
}

interface Position {
  index: number;
  pos: number;
  seq: number;
  hash: Uint8Array;
  streamSeq: number;
}

export class JetStreamMirror {
  private nc: NatsConnection | null = null;
  private js: JetStreamClient | null = null;
  private jsm: JetStreamManager | null = null;
  private running = false;
  private pumping: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private at: Position | null = null;
  private readonly st: MirrorStatus = { connected: false, mirroredIndex: 0, streamSeq: 0, lastError: null, gaps: 0 };
  private readonly prefix: string;

  constructor(private readonly o: MirrorOptions) {
    this.prefix = o.prefix ?? DEFAULT_PREFIX;
  }

  status(): MirrorStatus {
    return { ...this.st };
  }

  /** Start mirroring (this member became leader). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.pumping = this.loop();
  }

  /** New entries were applied. */
  notify(): void {
    this.wake?.();
  }

  /** Stop (leadership lost, or shutdown); resolves when nothing is in flight. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.pumping;
    this.pumping = null;
    this.at = null;
    const nc = this.nc;
    this.nc = null;
    this.js = null;
    this.jsm = null;
    this.st.connected = false;
    if (nc) await nc.close().catch(() => undefined);
  }

  private async loop(): Promise<void> {
    let backoff = 200;
    while (this.running) {
      try {
        await this.ensureConnected();
        this.at ??= await this.resumePoint();
        const moved = await this.pumpOnce();
        backoff = 200;
        if (!moved) await this.sleepUntilWoken(1_000);
      } catch (e) {
        // A lost expectation means someone else wrote to the stream: re-read where it stands.
        this.at = null;
        const msg = (e as Error).message;
        if (msg !== this.st.lastError) this.o.log.warn({ err: e, stream: this.o.stream }, 'event mirror: NATS write failed; will retry');
        this.st.lastError = msg;
        await this.sleepUntilWoken(backoff);
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
  }

  private async sleepUntilWoken(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private async ensureConnected(): Promise<void> {
    if (this.nc && !this.nc.isClosed()) return;
    this.nc = await connect({ ...this.o.auth, servers: this.o.url, timeout: 2_000, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 500, name: 'cluster_mgr-mirror' });
    this.jsm = await this.nc.jetstreamManager();
    this.js = this.nc.jetstream();
    await ensureStream(this.jsm, this.o.stream, this.prefix, this.o.duplicateWindowMs ?? 120_000);
    this.st.connected = true;
    this.st.lastError = null;
    this.o.log.info({ stream: this.o.stream, url: this.o.url }, 'event mirror connected');
  }

  /** Where the stream stands: the last mirrored (index, pos, seq, hash). */
  private async resumePoint(): Promise<Position> {
    const info = await this.jsm!.streams.info(this.o.stream);
    const last = info.state.last_seq;
    if (last === 0 || info.state.messages === 0) {
      return { index: 0, pos: -1, seq: 0, hash: GENESIS_HASH, streamSeq: last };
    }
    const m = await this.jsm!.streams.getMessage(this.o.stream, { seq: last });
    const h = m.header;
    const num = (k: string) => Number(h.get(k));
    const pos = { index: num(H.index), pos: num(H.pos), seq: num(H.seq), hash: Buffer.from(h.get(H.hash), 'hex'), streamSeq: last };
    if (!Number.isInteger(pos.index) || pos.hash.length !== 32) {
      throw new Error(`stream ${this.o.stream} last message ${last} has no cluster_mgr headers; refusing to append to it`);
    }
    this.o.log.info({ stream: this.o.stream, index: pos.index, seq: pos.seq, stream_seq: last }, 'event mirror resumes after the stream\'s last event');
    return pos;
  }

  /** Publishes what is applied and not yet mirrored; false when there was nothing to do. */
  private async pumpOnce(): Promise<boolean> {
    const at = this.at!;
    const applied = this.o.source.appliedIndex();
    // pos >= 0: the stream ends inside entry at.index (or at its last event; we cannot tell), so that
    // entry is read again and its published events skipped. pos = -1: entry at.index is complete.
    const from = at.pos >= 0 ? at.index : at.index + 1;
    if (from > applied) {
      this.st.mirroredIndex = at.index;
      return false;
    }
    const entries = this.o.source.read(Math.max(from, 1), 256);
    if (entries === 'compacted') {
      await this.publishGap(from);
      return true;
    }
    const window = this.o.window ?? 64;
    const inflight: Promise<unknown>[] = [];
    for (const e of entries) {
      if (!this.running) break;
      if (e.kind === 'normal') {
        const raws = splitBatch(e.data);
        for (let pos = 0; pos < raws.length && this.running; pos++) {
          if (e.index === at.index && pos <= at.pos) continue;
          const raw = raws[pos]!;
          const ev = decodeEvent(raw);
          const seq = at.seq + 1;
          const hash = chainHash(at.hash, hashableBytes(ev.type, raw));
          const hdr = natsHeaders();
          setHeaders(hdr, {
            [H.index]: e.index, [H.pos]: pos, [H.term]: e.term, [H.seq]: seq, [H.hash]: hash.toString('hex'),
            [H.type]: ev.type, [H.agg]: ev.agg, [H.at]: ev.at,
          });
          const expect = at.streamSeq;
          inflight.push(
            this.js!.publish(eventSubject(this.prefix, ev.agg, ev.type), mirroredBytes(ev.type, raw), {
              msgID: `${e.index}-${pos}`,
              headers: hdr,
              expect: { lastSequence: expect, streamName: this.o.stream },
            }),
          );
          Object.assign(at, { index: e.index, pos, seq, hash, streamSeq: expect + 1 });
          if (inflight.length >= window) await Promise.all(inflight.splice(0));
        }
        if (!this.running) break;
      }
      at.index = e.index;
      at.pos = -1;
    }
    await Promise.all(inflight);
    this.st.streamSeq = at.streamSeq;
    this.st.mirroredIndex = at.pos === -1 ? at.index : at.index - 1;
    return true;
  }

  private async publishGap(from: number): Promise<void> {
    const first = this.firstAvailable(from);
    const hdr = natsHeaders();
    setHeaders(hdr, { [H.index]: first - 1, [H.pos]: -1, [H.seq]: this.at!.seq, [H.hash]: Buffer.from(this.at!.hash).toString('hex'), [H.type]: 'mirror.gap' });
    const body = new TextEncoder().encode(JSON.stringify({ missing_from_index: from, missing_to_index: first - 1 }));
    await this.js!.publish(`${this.prefix}.events.mirror.gap`, body, { headers: hdr, expect: { lastSequence: this.at!.streamSeq, streamName: this.o.stream } });
    this.o.log.error({ from, to: first - 1 }, 'event mirror: the Raft log was compacted past what the stream holds; a gap marker was published');
    this.st.gaps++;
    // The hash chain continues from a point we do not have: later hashes cannot be computed here.
    throw new Error(`mirror gap from ${from} to ${first - 1}: restart the mirror from a snapshot-aware replay`);
  }

  private firstAvailable(from: number): number {
    let lo = from;
    let hi = this.o.source.appliedIndex();
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.o.source.read(mid, 1) === 'compacted') lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * The bytes as stored in the log (so an event of an older schema version still verifies against the
 * chain), with secret fields redacted when the event type has any.
 */
function mirroredBytes(type: string, raw: Uint8Array): Uint8Array {
  return hasSecrets(type) ? encodeCanonical(redactRaw(decodeMsgpack(raw))) : raw;
}

function setHeaders(h: MsgHdrs, kv: Record<string, string | number>): void {
  for (const [k, v] of Object.entries(kv)) h.set(k, String(v));
}

export async function ensureStream(jsm: JetStreamManager, name: string, prefix: string, duplicateWindowMs: number): Promise<void> {
  const subjects = [`${prefix}.events.>`];
  try {
    await jsm.streams.info(name);
  } catch {
    await jsm.streams.add({
      name,
      subjects,
      storage: 'file' as never,
      duplicate_window: duplicateWindowMs * 1_000_000,
      max_msgs: -1,
      max_bytes: -1,
    });
  }
}
