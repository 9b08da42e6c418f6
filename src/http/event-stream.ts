// GET /api/v1/events: the member's applied events as server-sent events. Each SSE message has
// `id: <seq>` (the event's position in the hash chain), `event: <type>` and as data the event with
// secret fields redacted. A client that reconnects with Last-Event-ID resumes after that event while
// it is still in this member's buffer; if it is older, a `gap` message says which events it missed
// (read them from the JetStream mirror or the REST views).
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import { decodeEvent, redactEvent, splitBatch } from '../events/index.js';
import type { DomainEvent } from '../events/catalog.js';
import type { EntrySource } from '../mirror/jetstream-mirror.js';
import type { WorldChanges } from '../ports/index.js';

export interface StreamedEvent {
  seq: number;
  /** Raft index of the entry that carried it. */
  index: number;
  type: string;
  agg: string;
  at: number;
  cause: unknown;
  data: unknown;
}

type Listener = (e: StreamedEvent) => void;

/** The applied world, its changes and the committed entries it still holds (WorldMachine). */
export type EventSource = WorldChanges & EntrySource;

export class EventBuffer {
  private buf: StreamedEvent[] = [];
  private readonly listeners = new Set<Listener>();

  constructor(
    private readonly sm: EventSource,
    readonly capacity = 10_000,
  ) {
    try {
      this.backfill();
    } catch {
      // A buffer that starts empty only limits Last-Event-ID resume; never stop the member for it.
      this.buf = [];
    }
    sm.onChange((_changed, results) => {
      for (const r of results) {
        if (!r.ok) continue;
        for (const c of r.committed) this.push(toStreamed(c.seq, c.index, c.event));
      }
    });
  }

  /** The oldest seq still buffered (0 when empty). */
  get oldest(): number {
    return this.buf[0]?.seq ?? 0;
  }

  get newest(): number {
    return this.buf.at(-1)?.seq ?? this.sm.world.seq;
  }

  /** Buffered events after `seq`, or 'gap' when some of them are no longer buffered. */
  after(seq: number): StreamedEvent[] | 'gap' {
    if (seq >= this.newest) return [];
    if (this.buf.length === 0 || seq < this.oldest - 1) return 'gap';
    let lo = 0;
    let hi = this.buf.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.buf[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return this.buf.slice(lo);
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private push(e: StreamedEvent): void {
    this.buf.push(e);
    if (this.buf.length > this.capacity * 1.25) this.buf = this.buf.slice(this.buf.length - this.capacity);
    for (const l of this.listeners) l(e);
  }

  /** Fills the buffer from the entries the state machine still holds (the newest `capacity` events). */
  private backfill(): void {
    const applied = this.sm.appliedIndex();
    let lo = 1;
    let hi = applied + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.sm.read(mid, 1) === 'compacted') lo = mid + 1;
      else hi = mid;
    }
    const entries = this.sm.read(lo, Number.MAX_SAFE_INTEGER);
    if (entries === 'compacted') return;
    // Only successfully applied batches are held, so their events end at the world's seq.
    const out: StreamedEvent[] = [];
    let seq = this.sm.world.seq;
    for (let i = entries.length - 1; i >= 0 && out.length < this.capacity; i--) {
      const e = entries[i]!;
      if (e.kind !== 'normal' || e.data.length === 0) continue; // no-ops carry no events
      const raws = splitBatch(e.data);
      for (let p = raws.length - 1; p >= 0 && out.length < this.capacity; p--) out.push(toStreamed(seq--, e.index, decodeEvent(raws[p]!)));
    }
    this.buf = out.reverse();
  }
}

function toStreamed(seq: number, index: number, ev: DomainEvent): StreamedEvent {
  const r = redactEvent(ev);
  return { seq, index, type: r.type, agg: r.agg, at: r.at, cause: r.cause, data: r.data };
}

function sse(e: StreamedEvent): string {
  return `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

const HEARTBEAT_MS = 15_000;
const MAX_UNSENT_BYTES = 8 * 1024 * 1024;

export function registerEventStream(app: FastifyInstance, events: EventBuffer): void {
  const open = new Set<ServerResponse>();
  // Streams never end by themselves: close them so the server can stop.
  app.addHook('preClose', (done) => {
    for (const res of open) res.end();
    done();
  });
  app.get(
    '/api/v1/events',
    {
      schema: {
        tags: ['events'],
        summary: 'applied events as server-sent events (id = chain seq, event = type, data = redacted event)',
        querystring: {
          type: 'object',
          properties: {
            type: { type: 'string', maxLength: 200, description: 'only event types starting with one of these comma-separated prefixes, e.g. "job.,shard."' },
            agg: { type: 'string', maxLength: 200, description: 'only aggregates starting with this, e.g. "job/12" or "cluster/"' },
            last_event_id: { type: 'integer', minimum: 0, description: 'resume after this seq (same as the Last-Event-ID header)' },
          },
        },
      },
    },
    (req, reply) => {
      const q = req.query as { type?: string; agg?: string; last_event_id?: number };
      const header = req.headers['last-event-id'];
      const fromHeader = typeof header === 'string' && /^[0-9]{1,15}$/.test(header) ? Number(header) : undefined;
      const last = fromHeader ?? q.last_event_id;
      const prefixes = (q.type ?? '').split(',').filter((s) => s !== '');
      const wanted = (e: StreamedEvent) => (prefixes.length === 0 || prefixes.some((p) => e.type.startsWith(p))) && (q.agg === undefined || e.agg.startsWith(q.agg));
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      open.add(res);
      res.write(`retry: 2000\n: cluster_mgr events; newest seq ${events.newest}\n\n`);
      if (last !== undefined) {
        const missed = events.after(last);
        if (missed === 'gap') {
          res.write(`event: gap\ndata: ${JSON.stringify({ after: last, oldest_buffered: events.oldest, newest: events.newest, info: 'events between are no longer buffered on this member; read them from the JetStream mirror' })}\n\n`);
          for (const e of events.after(events.oldest - 1) as StreamedEvent[]) if (wanted(e)) res.write(sse(e));
        } else for (const e of missed) if (wanted(e)) res.write(sse(e));
      }
      const unsubscribe = events.subscribe((e) => {
        if (!wanted(e)) return;
        // A client that stopped reading is dropped instead of buffering without bound; it can
        // reconnect with Last-Event-ID.
        if (res.writableLength > MAX_UNSENT_BYTES) res.end();
        else res.write(sse(e));
      });
      const beat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
      res.on('close', () => {
        clearInterval(beat);
        unsubscribe();
        open.delete(res);
      });
    },
  );
}
