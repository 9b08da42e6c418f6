// Length-prefixed frames: [u32 big-endian payload length][payload]. The decoder keeps received chunks
// in a list and joins them once per frame, so a large frame arriving in many chunks costs one copy.

export const FRAME_HEADER_BYTES = 4;

export function frameHeader(payloadBytes: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  h.writeUInt32BE(payloadBytes, 0);
  return h;
}

export class FrameTooLargeError extends Error {
  override readonly name = 'FrameTooLargeError';
}

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Payload length of the frame being assembled, once its header is in. */
  private need = -1;

  constructor(private maxFrameBytes: number) {}

  /** Raises (or lowers) the limit, e.g. once the peer is authenticated. */
  setMaxFrameBytes(n: number): void {
    this.maxFrameBytes = n;
  }

  /** Feeds bytes; returns the complete payloads now available. Throws FrameTooLargeError. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < FRAME_HEADER_BYTES) break;
        const len = this.peekHeader();
        if (len > this.maxFrameBytes) {
          throw new FrameTooLargeError(`frame of ${len} bytes exceeds the ${this.maxFrameBytes}-byte limit`);
        }
        this.take(FRAME_HEADER_BYTES);
        this.need = len;
      }
      if (this.buffered < this.need) break;
      out.push(this.take(this.need));
      this.need = -1;
    }
    return out;
  }

  private peekHeader(): number {
    const first = this.chunks[0] as Buffer;
    if (first.length >= FRAME_HEADER_BYTES) return first.readUInt32BE(0);
    return Buffer.concat(this.chunks, FRAME_HEADER_BYTES).readUInt32BE(0);
  }

  /** Removes and returns the next n bytes. */
  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0] as Buffer;
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}
