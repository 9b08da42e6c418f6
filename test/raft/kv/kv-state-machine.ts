// A small key-value state machine: used by the real-process test and the benchmark (through
// kv-demo.ts), and a worked example of the StateMachine contract.
// Command encoding: [u8 op][u16 keyLength][key utf8][value bytes]; op 1 = put, 2 = delete.

import { pack, unpack } from 'msgpackr';
import type { Entry } from '../../../src/raft/types.js';
import type { StateMachine } from '../../../src/raft/node/state-machine.js';

const PUT = 1;
const DELETE = 2;

export function encodePut(key: string, value: Uint8Array): Uint8Array {
  const k = Buffer.from(key, 'utf8');
  if (k.length > 0xffff) throw new Error('key longer than 65535 bytes');
  const out = Buffer.allocUnsafe(3 + k.length + value.length);
  out[0] = PUT;
  out.writeUInt16BE(k.length, 1);
  k.copy(out, 3);
  out.set(value, 3 + k.length);
  return out;
}

export function encodeDelete(key: string): Uint8Array {
  const k = Buffer.from(key, 'utf8');
  const out = Buffer.allocUnsafe(3 + k.length);
  out[0] = DELETE;
  out.writeUInt16BE(k.length, 1);
  k.copy(out, 3);
  return out;
}

export interface KvApplyResult {
  /** False when the key existed before. */
  created: boolean;
}

export class KvStateMachine implements StateMachine {
  private readonly map = new Map<string, Uint8Array>();
  /** Index of the last entry applied (for tests comparing members). */
  lastApplied = 0;

  get size(): number {
    return this.map.size;
  }

  get(key: string): Uint8Array | undefined {
    return this.map.get(key);
  }

  entries(): IterableIterator<[string, Uint8Array]> {
    return this.map.entries();
  }

  apply(entries: readonly Entry[]): KvApplyResult[] {
    const out: KvApplyResult[] = [];
    for (const e of entries) {
      const d = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
      this.lastApplied = e.index;
      if (d.length < 3) {
        out.push({ created: false }); // malformed: every member skips it the same way
        continue;
      }
      const klen = d.readUInt16BE(1);
      const key = d.toString('utf8', 3, 3 + klen);
      if (d[0] === PUT) {
        const created = !this.map.has(key);
        // Copy: the entry's buffer may be a view into a larger network or WAL buffer.
        this.map.set(key, Uint8Array.prototype.slice.call(d, 3 + klen));
        out.push({ created });
      } else if (d[0] === DELETE) {
        out.push({ created: false });
        this.map.delete(key);
      } else {
        out.push({ created: false });
      }
    }
    return out;
  }

  snapshot(): Uint8Array {
    return pack({ lastApplied: this.lastApplied, kv: [...this.map.entries()] });
  }

  restore(data: Uint8Array): void {
    this.map.clear();
    this.lastApplied = 0;
    if (data.length === 0) return;
    const s = unpack(data) as { lastApplied: number; kv: Array<[string, Uint8Array]> };
    this.lastApplied = s.lastApplied;
    for (const [k, v] of s.kv) this.map.set(k, v);
  }
}
