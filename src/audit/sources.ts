// Where an audit replay reads events from: the JetStream mirror, or a stopped member's data dir.
import { natsAuthOptions, type NatsCredentials } from '../mirror/nats-auth.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect, AckPolicy, DeliverPolicy } from 'nats';
import { decodeMsgpack, splitBatch, decodeEvent, chainHash, hashableBytes, GENESIS_HASH, type DomainEvent } from '../events/index.js';
import { H } from '../mirror/subjects.js';
import { dataDirHolder } from '../raft/storage/data-dir-lock.js';
import { WalStorage } from '../raft/storage/wal-storage.js';

export interface ReplayRecord {
  index: number;
  pos: number;
  /** Chain position; from a data dir it counts from the snapshot's position. */
  seq: number;
  /** Chain hash recorded by the source (the mirror's header) or computed while reading a data dir. */
  hash: string;
  type: string;
  agg: string;
  at: number;
  /** The event bytes as the source holds them (redacted in the mirror). */
  bytes: Uint8Array;
  event: DomainEvent;
}

export interface ReplayInput {
  records: ReplayRecord[];
  /** A world snapshot the records continue from (data dir after compaction), or null. */
  snapshot: Uint8Array | null;
  describe: string;
  /** Gap markers found in the mirror. */
  gaps: { from: number; to: number }[];
}

export async function readStream(
  url: string,
  stream: string,
  opts: { fromSeq?: number; maxMessages?: number; credentials?: NatsCredentials } = {},
): Promise<ReplayInput> {
  const nc = await connect({ ...natsAuthOptions(opts.credentials ?? { kind: 'none' }), servers: url, timeout: 5_000, name: 'cluster-mgr-replay' });
  try {
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(stream);
    const total = info.state.last_seq;
    const records: ReplayRecord[] = [];
    const gaps: { from: number; to: number }[] = [];
    if (info.state.messages === 0) return { records, snapshot: null, describe: `stream ${stream} at ${url} (empty)`, gaps };
    // An ephemeral ordered pull consumer reads the whole stream in order without acks.
    const js = nc.jetstream();
    const consumer = await js.consumers.get(stream, { opt_start_seq: opts.fromSeq ?? 1, deliver_policy: opts.fromSeq ? DeliverPolicy.StartSequence : DeliverPolicy.All });
    void AckPolicy;
    const want = Math.min(opts.maxMessages ?? Infinity, total - (opts.fromSeq ?? 1) + 1);
    while (records.length + gaps.length < want) {
      const batch = await consumer.fetch({ max_messages: Math.min(1000, want - records.length - gaps.length), expires: 5_000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        const h = m.headers;
        const type = h?.get(H.type) ?? '';
        if (type === 'mirror.gap') {
          const body = JSON.parse(new TextDecoder().decode(m.data)) as { missing_from_index: number; missing_to_index: number };
          gaps.push({ from: body.missing_from_index, to: body.missing_to_index });
          continue;
        }
        const event = decodeEvent(m.data);
        records.push({
          index: Number(h?.get(H.index)), pos: Number(h?.get(H.pos)), seq: Number(h?.get(H.seq)), hash: h?.get(H.hash) ?? '',
          type: event.type, agg: event.agg, at: event.at, bytes: m.data, event,
        });
      }
      if (got === 0) break;
    }
    return { records, snapshot: null, describe: `stream ${stream} at ${url}`, gaps };
  } finally {
    await nc.close();
  }
}

/** Reads a stopped member's Raft log, read-only (nothing on disk is changed). */
export async function readDataDir(dataDir: string): Promise<ReplayInput> {
  const pid = dataDirHolder(dataDir);
  if (pid !== null) throw new Error(`data directory ${dataDir} is in use by process ${pid}; stop that member or replay from the JetStream mirror`);
  const raftDir = join(dataDir, 'raft');
  if (!existsSync(raftDir)) throw new Error(`${dataDir} holds no Raft log (no raft/ directory)`);
  const wal = await WalStorage.open(raftDir, { readOnly: true });
  try {
    const snap = wal.snapshot();
    const first = wal.firstIndex();
    const last = wal.lastIndex();
    const hs = wal.hardState();
    // The commit index is persisted lazily, so entries after it may be committed too: they are read,
    // and the description says which ones this member could not know to be committed.
    const commit = Math.min(hs.commit, last);
    const entries = last >= first ? wal.entries(first, last + 1) : [];
    const records: ReplayRecord[] = [];
    // The chain continues from the snapshot's head, which the snapshot's world records.
    const { World } = await import('../actors/index.js');
    const base = snap.meta.index > 0 ? World.restore(snap.data) : null;
    let seq = base?.seq ?? 0;
    let h: Uint8Array = base ? Buffer.from(base.head, 'hex') : GENESIS_HASH;
    for (const e of entries) {
      if (e.kind !== 'normal') continue;
      const raws = splitBatch(e.data);
      raws.forEach((raw, pos) => {
        const event = decodeEvent(raw);
        seq++;
        h = chainHash(h, hashableBytes(event.type, raw));
        records.push({ index: e.index, pos, seq, hash: Buffer.from(h).toString('hex'), type: event.type, agg: event.agg, at: event.at, bytes: raw, event });
      });
    }
    void decodeMsgpack;
    return {
      records,
      snapshot: snap.meta.index > 0 ? snap.data : null,
      describe:
        `data dir ${dataDir} (snapshot at index ${snap.meta.index}, log ${first}..${last}` +
        (last > commit ? `; entries after ${commit} were not yet known to be committed on this member)` : ')'),
      gaps: [],
    };
  } finally {
    await wal.close();
  }
}
