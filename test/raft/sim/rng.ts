// The simulator's only source of randomness: everything follows from the seed.
import { SeededRandom } from '../../../src/raft/core/index.js';

export class Rng extends SeededRandom {
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** A float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + this.next() * (hi - lo);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('rng.pick from an empty list');
    return items[this.int(items.length)]!;
  }

  /** An independent generator for one concern (so adding draws in one place does not shift others). */
  fork(): Rng {
    return new Rng(this.nextUint32() * 0x10000 + this.int(0x10000));
  }
}
