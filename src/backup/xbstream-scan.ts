// Reads the small text files a `mariadb-backup --stream=xbstream` carries (the binlog position at the
// copy point, the tool's info) as the stream passes to a backup storage, without extracting it. The
// format (MariaDB's extra/mariabackup/xbstream): chunks of magic "XBSTCK01", flags (1 byte), type
// (1 byte: 'P' payload, 'E' end of file), path length (u32 LE), path; a payload chunk then has its
// length (u64 LE), offset (u64 LE), a crc32 (u32 LE) and the payload.
import { Transform, type TransformCallback } from 'node:stream';

const MAGIC = Buffer.from('XBSTCK01', 'latin1');
/** magic, flags, type, path length. */
const FIXED = MAGIC.length + 1 + 1 + 4;
/** payload length, offset, checksum. */
const PAYLOAD_HEAD = 8 + 8 + 4;
/** A wanted file larger than this is not kept (the info files are a few hundred bytes). */
const MAX_KEPT = 64 * 1024;

export class XbstreamError extends Error {
  override name = 'XbstreamError';
}

/** A pass-through stream that keeps the content of the files named in `wanted` (paths in the stream). */
export class XbstreamScan extends Transform {
  private head: Buffer = Buffer.alloc(0);
  /** Payload bytes still to pass of the current chunk, and the file they belong to when kept. */
  private left = 0;
  private into: string | null = null;
  private readonly kept = new Map<string, Buffer[]>();
  private chunks = 0;

  constructor(private readonly wanted: ReadonlySet<string>) {
    super();
  }

  /** The content of a wanted file seen in the stream, or undefined. */
  file(path: string): string | undefined {
    const parts = this.kept.get(path);
    return parts === undefined ? undefined : Buffer.concat(parts).toString('utf8');
  }

  /** How many chunks passed (a stream of none is no backup). */
  get chunkCount(): number {
    return this.chunks;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.scan(chunk);
    } catch (e) {
      cb(e as Error);
      return;
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.left > 0 || this.head.length > 0) cb(new XbstreamError(`the xbstream ended inside a chunk (${this.left} payload bytes, ${this.head.length} header bytes missing or pending)`));
    else cb();
  }

  private scan(buf: Buffer): void {
    let at = 0;
    while (at < buf.length) {
      if (this.left > 0) {
        const n = Math.min(this.left, buf.length - at);
        if (this.into !== null) this.keep(this.into, buf.subarray(at, at + n));
        this.left -= n;
        at += n;
        continue;
      }
      // A header: gather it whole (it is small), then parse.
      const need = this.headerLength();
      const take = Math.min(buf.length - at, need - this.head.length);
      this.head = Buffer.concat([this.head, buf.subarray(at, at + take)]);
      at += take;
      // The magic first: a foreign stream is refused before its garbage is read as a length.
      if (this.head.length >= MAGIC.length && !this.head.subarray(0, MAGIC.length).equals(MAGIC)) {
        throw new XbstreamError(`not an xbstream: chunk ${this.chunks + 1} has no XBSTCK01 magic`);
      }
      if (this.head.length === need && this.headerLength() === need) this.parseHeader();
    }
  }

  /** Bytes of the current header as far as known from what has been gathered. */
  private headerLength(): number {
    if (this.head.length < FIXED) return FIXED;
    const type = String.fromCharCode(this.head[MAGIC.length + 1]!);
    const pathLen = this.head.readUInt32LE(MAGIC.length + 2);
    return FIXED + pathLen + (type === 'E' ? 0 : PAYLOAD_HEAD);
  }

  private parseHeader(): void {
    const h = this.head;
    const type = String.fromCharCode(h[MAGIC.length + 1]!);
    const pathLen = h.readUInt32LE(MAGIC.length + 2);
    const path = h.subarray(FIXED, FIXED + pathLen).toString('utf8');
    this.chunks++;
    this.head = Buffer.alloc(0);
    if (type === 'E') return;
    if (type !== 'P') throw new XbstreamError(`xbstream chunk ${this.chunks} (${path.slice(0, 80)}) has type ${JSON.stringify(type)}, which this reader does not know`);
    const len = h.readBigUInt64LE(FIXED + pathLen);
    if (len > BigInt(Number.MAX_SAFE_INTEGER)) throw new XbstreamError(`xbstream chunk ${this.chunks} claims ${len} bytes`);
    this.left = Number(len);
    this.into = this.wanted.has(path) ? path : null;
  }

  private keep(path: string, part: Buffer): void {
    const parts = this.kept.get(path) ?? [];
    if (parts.reduce((n, p) => n + p.length, 0) + part.length > MAX_KEPT) return;
    parts.push(Buffer.from(part));
    this.kept.set(path, parts);
  }
}
