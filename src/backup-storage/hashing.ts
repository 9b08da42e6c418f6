// Counting and hashing a stream on its way to a storage, the same way for every kind.
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { PutResult } from './store.js';

/** Bytes counted and hashed as they pass; result() once they all did. */
export class Digest {
  private readonly hash = createHash('sha256');
  private size = 0;

  add(chunk: Buffer): void {
    this.hash.update(chunk);
    this.size += chunk.length;
  }

  result(): PutResult {
    return { size: this.size, sha256: this.hash.digest('hex') };
  }
}

/** A pass-through stream that feeds a Digest. */
export class Digesting extends Transform {
  private readonly digest = new Digest();

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.digest.add(chunk);
    cb(null, chunk);
  }

  result(): PutResult {
    return this.digest.result();
  }
}
