// An undo log: a batch applies event by event, and on the first refusal every change is undone, so a
// batch is all or nothing. Entries are kept flat (op, target, key, value) rather than as closures:
// replay applies hundreds of thousands of events a second and allocation is its main cost.
const SET = 0; // restore map[key] = value
const DEL = 1; // delete map[key]
const SADD = 2; // re-add value to set
const SDEL = 3; // delete value from set
const FIELD = 4; // restore obj[key] = value

export class Tx {
  private readonly log: unknown[] = [];

  private push(op: number, target: unknown, key: unknown, value: unknown): void {
    this.log.push(op, target, key, value);
  }

  // Maps used with a Tx never hold undefined values, so one lookup tells presence and value.
  set<K, V>(m: Map<K, V>, k: K, v: V): void {
    const prev = m.get(k);
    if (prev !== undefined) this.push(SET, m, k, prev);
    else this.push(DEL, m, k, undefined);
    m.set(k, v);
  }

  delete<K, V>(m: Map<K, V>, k: K): void {
    const prev = m.get(k);
    if (prev === undefined) return;
    this.push(SET, m, k, prev);
    m.delete(k);
  }

  /** Adds `v` to the set under `k` in a multimap. */
  add<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
    let s = m.get(k);
    if (s === undefined) {
      s = new Set();
      this.set(m, k, s);
    }
    this.setAdd(s, v);
  }

  /** Removes `v` from the set under `k`; an emptied set is dropped. */
  remove<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
    const s = m.get(k);
    if (s === undefined || !s.has(v)) return;
    this.setDelete(s, v);
    if (s.size === 0) this.delete(m, k);
  }

  setAdd<V>(s: Set<V>, v: V): void {
    if (s.has(v)) return;
    s.add(v);
    this.push(SDEL, s, v, undefined);
  }

  setDelete<V>(s: Set<V>, v: V): void {
    if (!s.has(v)) return;
    s.delete(v);
    this.push(SADD, s, v, undefined);
  }

  field<T extends object, F extends keyof T>(o: T, f: F, v: T[F]): void {
    const prev = o[f];
    if (prev === v) return;
    this.push(FIELD, o, f, prev);
    o[f] = v;
  }

  rollback(): void {
    const l = this.log;
    for (let i = l.length - 4; i >= 0; i -= 4) {
      const target = l[i + 1];
      const key = l[i + 2];
      switch (l[i] as number) {
        case SET:
          (target as Map<unknown, unknown>).set(key, l[i + 3]);
          break;
        case DEL:
          (target as Map<unknown, unknown>).delete(key);
          break;
        case SADD:
          (target as Set<unknown>).add(key);
          break;
        case SDEL:
          (target as Set<unknown>).delete(key);
          break;
        case FIELD:
          (target as Record<PropertyKey, unknown>)[key as PropertyKey] = l[i + 3];
          break;
      }
    }
    l.length = 0;
  }

  commit(): void {
    this.log.length = 0;
  }
}
