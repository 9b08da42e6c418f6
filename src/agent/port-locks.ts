// One operation at a time per port: two jobs (or a job and the keepalive) on the same instance run one
// after the other, while different instances proceed in parallel, like node_mgr's per-request threads.
export class PortLocks {
  private readonly tails = new Map<number, Promise<void>>();

  async run<T>(port: number, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(port) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(port, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(port) === tail) this.tails.delete(port);
    }
  }

  /** Something runs or waits on this port. */
  busy(port: number): boolean {
    return this.tails.has(port);
  }

  /** Resolves when nothing runs on any port. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }
}
