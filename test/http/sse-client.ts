// A minimal server-sent-events client for tests: fetch with a streamed body, messages parsed as they
// arrive (id, event, JSON data), and waitFor(predicate).
export interface SseMessage {
  id?: string;
  event: string;
  data: Record<string, unknown>;
}

export class SseClient {
  readonly events: SseMessage[] = [];
  private waiters: (() => void)[] = [];
  private constructor(private readonly ctl: AbortController) {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const ctl = new AbortController();
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: ctl.signal });
    if (res.status !== 200 || res.body === null) throw new Error(`SSE ${url}: HTTP ${res.status} ${await res.text()}`);
    const c = new SseClient(ctl);
    void c.pump(res.body);
    return c;
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const dec = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of body) {
        buf += dec.decode(chunk, { stream: true });
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const msg: Partial<SseMessage> & { dataText?: string } = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const i = line.indexOf(':');
            const k = i < 0 ? line : line.slice(0, i);
            const v = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
            if (k === 'id') msg.id = v;
            else if (k === 'event') msg.event = v;
            else if (k === 'data') msg.dataText = (msg.dataText === undefined ? '' : `${msg.dataText}\n`) + v;
          }
          if (msg.dataText === undefined) continue;
          const m: SseMessage = { event: msg.event ?? 'message', data: JSON.parse(msg.dataText) as Record<string, unknown> };
          if (msg.id !== undefined) m.id = msg.id;
          this.events.push(m);
          for (const w of this.waiters.splice(0)) w();
        }
      }
    } catch {
      // aborted by close()
    }
  }

  async waitFor(pred: (m: SseMessage) => boolean, ms = 20_000): Promise<SseMessage> {
    const end = Date.now() + ms;
    for (;;) {
      const hit = this.events.find(pred);
      if (hit !== undefined) return hit;
      const left = end - Date.now();
      if (left <= 0) throw new Error(`no matching server-sent event within ${ms} ms (got ${this.events.map((e) => e.event).join(', ')})`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
  }

  close(): void {
    this.ctl.abort();
  }
}
