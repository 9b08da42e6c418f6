// Safety invariants, checked as the simulation runs. Each check throws SimViolation at the first
// breach, so the run stops at the step that caused it.
import type { Entry, MemberId, RaftCore } from '../../../src/raft/core/index.js';
import { decodeConfChange } from '../../../src/raft/core/index.js';

export class SimViolation extends Error {
  override name = 'SimViolation';
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

const keys = new WeakMap<Uint8Array, string>();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Payload of a client write; its key is remembered so the checker need not decode it. */
export function writePayload(key: string): Uint8Array {
  const data = encoder.encode(key);
  keys.set(data, key);
  return data;
}

export function entryKey(e: Entry): string {
  if (e.kind === 'noop') return 'noop';
  if (e.kind === 'conf') {
    const cc = decodeConfChange(e.data);
    return `conf:${cc.type}:${cc.member}`;
  }
  return keys.get(e.data) ?? decoder.decode(e.data);
}

/** Rolling digest of a state machine: the fold of the keys of every entry applied so far. */
export function mixDigest(d: number, key: string): number {
  let h = (d ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}

export interface LiveNode {
  id: MemberId;
  core: RaftCore | null;
}

export class Checker {
  /** term → the member that led it. */
  readonly leaders = new Map<number, MemberId>();
  /** What the first member to apply an index applied there, and the state digest after it. */
  private appliedKey: string[] = [];
  private appliedTerm: number[] = [];
  private digest: number[] = [];
  /** (index, term) → entry key and the term of the entry before it, for log matching. */
  private logRecord = new Map<number, { key: string; prevTerm: number }>();
  /** Highest index some leader has reported committed; per index, the first such leader's term and
   *  the committed entry's term. */
  private commitObserved = 1;
  private commitTerm: number[] = [];
  private commitEntryTerm: number[] = [];

  maxAckedIndex = 0;
  maxReadIndex = 0;
  readonly acked: { key: string; index: number }[] = [];

  constructor(private readonly liveNodes: () => Iterable<LiveNode>) {
    // The bootstrap snapshot: index 1, empty state.
    this.appliedKey[1] = 'bootstrap';
    this.appliedTerm[1] = 1;
    this.digest[1] = 0;
  }

  /** After every step that touched `n`: election safety, and commits reported by a leader. */
  observe(n: LiveNode): void {
    const c = n.core;
    if (c === null || c.role !== 'leader') return;
    const term = c.term;
    const prev = this.leaders.get(term);
    if (prev === undefined) {
      this.leaders.set(term, n.id);
      this.checkLeaderHasCommitted(c, 2, this.commitObserved);
    } else if (prev !== n.id) {
      throw new SimViolation('election safety', `term ${term} has two leaders: ${prev} and ${n.id}`);
    }
    const commit = c.commitIndex;
    if (commit > this.commitObserved) {
      const from = this.commitObserved + 1;
      for (let i = from; i <= commit; i++) {
        const t = c.termOf(i);
        if (t === undefined) throw new SimViolation('leader log', `leader ${n.id} committed ${i} but has no entry there`);
        this.commitTerm[i] = term;
        this.commitEntryTerm[i] = t;
      }
      this.commitObserved = commit;
      // Leaders of later terms that exist already must hold these entries too.
      for (const other of this.liveNodes()) {
        if (other.core !== null && other.core.role === 'leader' && other.core.term > term) {
          this.checkLeaderHasCommitted(other.core, from, commit);
        }
      }
    }
  }

  /** Leader completeness: a leader of term T holds every entry committed in a term before T. */
  private checkLeaderHasCommitted(c: RaftCore, from: number, to: number): void {
    const last = c.lastIndex();
    for (let i = from; i <= to; i++) {
      const ct = this.commitTerm[i];
      if (ct === undefined || ct >= c.term) continue;
      const want = this.commitEntryTerm[i]!;
      if (i > last) {
        throw new SimViolation(
          'leader completeness',
          `${c.id} leads term ${c.term} but its log ends at ${last}, before entry ${i} (term ${want}) committed in term ${ct}`,
        );
      }
      const t = c.termOf(i);
      if (t !== undefined && t !== want) {
        throw new SimViolation(
          'leader completeness',
          `${c.id} leads term ${c.term} with term ${t} at ${i}, but term ${want} was committed there in term ${ct}`,
        );
      }
    }
  }

  /** Entries a member just made durable: same (index, term) must mean same entry and same prefix. */
  persisted(id: MemberId, entries: readonly Entry[], prevTermOfFirst: number | undefined): void {
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k]!;
      const prevTerm = k === 0 ? prevTermOfFirst : entries[k - 1]!.term;
      if (prevTerm === undefined) continue;
      const slot = e.index * 0x100000 + e.term;
      const key = entryKey(e);
      const rec = this.logRecord.get(slot);
      if (rec === undefined) {
        this.logRecord.set(slot, { key, prevTerm });
      } else if (rec.key !== key || rec.prevTerm !== prevTerm) {
        throw new SimViolation(
          'log matching',
          `${id} stored (index ${e.index}, term ${e.term}) = ${key} after term ${prevTerm}, ` +
            `another member stored ${rec.key} after term ${rec.prevTerm}`,
        );
      }
    }
  }

  /** A member applies `e` on a state with digest `digestBefore`; returns the new digest. */
  applied(id: MemberId, e: Entry, appliedBefore: number, digestBefore: number): number {
    if (e.index !== appliedBefore + 1) {
      throw new SimViolation('apply order', `${id} applied index ${e.index} right after ${appliedBefore}`);
    }
    const key = entryKey(e);
    const d = mixDigest(digestBefore, key);
    const known = this.appliedKey[e.index];
    if (known === undefined) {
      if (this.digest[appliedBefore] !== digestBefore) {
        throw new SimViolation('state machine safety', `${id} applied ${e.index} on a state that differs from others' at ${appliedBefore}`);
      }
      this.appliedKey[e.index] = key;
      this.appliedTerm[e.index] = e.term;
      this.digest[e.index] = d;
    } else if (known !== key || this.appliedTerm[e.index] !== e.term) {
      throw new SimViolation(
        'state machine safety',
        `${id} applied ${key} (term ${e.term}) at ${e.index}; another member applied ${known} (term ${this.appliedTerm[e.index]})`,
      );
    } else if (this.digest[e.index] !== d) {
      throw new SimViolation('state machine safety', `${id}'s state after ${e.index} differs from others'`);
    }
    return d;
  }

  /** A member's state machine now holds a snapshot at (index, term) with `digest`. */
  snapshotLoaded(id: MemberId, index: number, term: number, digest: number): void {
    if (this.digest[index] === undefined) {
      throw new SimViolation('snapshot', `${id} loaded a snapshot at ${index}, which no member has applied`);
    }
    if (this.digest[index] !== digest || this.appliedTerm[index] !== term) {
      throw new SimViolation('snapshot', `${id} loaded a snapshot at ${index} (term ${term}) whose state differs from the applied log`);
    }
  }

  digestAt(index: number): number | undefined {
    return this.digest[index];
  }

  appliedKeyAt(index: number): string | undefined {
    return this.appliedKey[index];
  }

  writeAcked(key: string, index: number): void {
    if (this.appliedKey[index] !== key) {
      throw new SimViolation('client history', `write ${key} acknowledged at ${index}, where ${this.appliedKey[index]} was applied`);
    }
    this.acked.push({ key, index });
    if (index > this.maxAckedIndex) this.maxAckedIndex = index;
  }

  /** What a read started now must observe: every acknowledged write and every completed read. */
  readFloor(): number {
    return Math.max(this.maxAckedIndex, this.maxReadIndex);
  }

  /** A read observed the state at applied index `at`; it started when the floor was `floor`. */
  readCompleted(id: MemberId, ctx: string, floor: number, at: number): void {
    if (at < floor) {
      throw new SimViolation(
        'linearizability',
        `read ${ctx} on ${id} saw the state at ${at}, but a write acknowledged or read completed before it started was at ${floor}`,
      );
    }
    if (at > this.maxReadIndex) this.maxReadIndex = at;
  }
}
