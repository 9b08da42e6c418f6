// A per-peer outbound queue bounded in bytes. Raft tolerates lost messages (it retries appends and
// re-sends heartbeats), so when a peer is slow or gone we drop rather than grow without bound:
// a new non-critical message is dropped when the queue is full; a critical one (votes, heartbeats,
// responses: small and time-sensitive) evicts the oldest non-critical ones first.

export interface QueuedFrame {
  payload: Buffer;
  critical: boolean;
}

export interface DropCount {
  messages: number;
  bytes: number;
}

const FRAME_OVERHEAD = 4;

export class SendQueue {
  private items: QueuedFrame[] = [];
  private head = 0;
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  get queuedBytes(): number {
    return this.bytes;
  }

  /**
   * Adds a frame, dropping as the policy says. `accepted` tells whether the new frame is queued;
   * `dropped` counts every frame dropped, the new one included.
   */
  push(frame: QueuedFrame): { accepted: boolean; dropped: DropCount } {
    const size = frame.payload.length + FRAME_OVERHEAD;
    const dropped: DropCount = { messages: 0, bytes: 0 };
    // One oversized message (a snapshot) may go through an empty queue, otherwise it could never be sent.
    if (this.bytes + size > this.maxBytes && this.length > 0) {
      if (!frame.critical) return { accepted: false, dropped: { messages: 1, bytes: size } };
      this.evict(size, dropped);
      if (this.bytes + size > this.maxBytes && this.length > 0) {
        dropped.messages++;
        dropped.bytes += size;
        return { accepted: false, dropped };
      }
    }
    this.items.push(frame);
    this.bytes += size;
    return { accepted: true, dropped };
  }

  shift(): QueuedFrame | undefined {
    if (this.head >= this.items.length) return undefined;
    const f = this.items[this.head] as QueuedFrame;
    this.items[this.head] = undefined as unknown as QueuedFrame; // release for GC
    this.head++;
    this.bytes -= f.payload.length + FRAME_OVERHEAD;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return f;
  }

  clear(): DropCount {
    const d = { messages: this.length, bytes: this.bytes };
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    return d;
  }

  /** Removes the oldest non-critical frames, then the oldest critical ones, until `size` fits. */
  private evict(size: number, dropped: DropCount): void {
    const live = this.items.slice(this.head);
    const keep: QueuedFrame[] = [];
    let bytes = this.bytes;
    for (const f of live) {
      if (!f.critical && bytes + size > this.maxBytes) {
        bytes -= f.payload.length + FRAME_OVERHEAD;
        dropped.messages++;
        dropped.bytes += f.payload.length + FRAME_OVERHEAD;
      } else {
        keep.push(f);
      }
    }
    while (bytes + size > this.maxBytes && keep.length > 0) {
      const f = keep.shift() as QueuedFrame;
      bytes -= f.payload.length + FRAME_OVERHEAD;
      dropped.messages++;
      dropped.bytes += f.payload.length + FRAME_OVERHEAD;
    }
    this.items = keep;
    this.head = 0;
    this.bytes = bytes;
  }
}
