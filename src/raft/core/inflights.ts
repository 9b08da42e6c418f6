// Appends sent to a follower and not yet acknowledged: bounds how far the leader pipelines ahead.

export class Inflights {
  private indexes: number[] = [];
  private sizes: number[] = [];
  private head = 0;
  /** Bytes of payload in flight. */
  bytes = 0;

  constructor(
    readonly maxCount: number,
    /** 0: no byte limit. */
    readonly maxBytes: number,
  ) {}

  count(): number {
    return this.indexes.length - this.head;
  }

  full(): boolean {
    return this.count() >= this.maxCount || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  /** Records an append whose last entry is `index`. Indexes must increase. */
  add(index: number, bytes: number): void {
    this.indexes.push(index);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** Frees every append whose last entry is <= index (the follower acknowledged up to index). */
  freeLE(index: number): void {
    while (this.head < this.indexes.length && this.indexes[this.head]! <= index) {
      this.bytes -= this.sizes[this.head]!;
      this.head++;
    }
    if (this.head === this.indexes.length) {
      this.reset();
    } else if (this.head > 64 && this.head * 2 > this.indexes.length) {
      this.indexes = this.indexes.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  reset(): void {
    this.indexes = [];
    this.sizes = [];
    this.head = 0;
    this.bytes = 0;
  }
}
