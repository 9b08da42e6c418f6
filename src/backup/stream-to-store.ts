// A shard backup's bytes: the manager leader GETs the source agent's xbstream (a one-time ticket from
// prepare_copy_source), reads the binlog position and tool info out of it as it passes, compresses it
// (gzip) and writes it into the backup storage, which checks size and SHA-256 of what it stored. The
// S3 keys stay on the members (docs/backup.md says why the bytes flow this way).
import { createGzip } from 'node:zlib';
import type { ClientRequest } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { TRAILER_SHA, TRAILER_STATUS } from '../agent/copy-source.js';
import { requestCopyStream, type CopyStreamSource } from '../agent/copy-stream-client.js';
import { BINLOG_INFO_FILES, parseBinlogInfo, type BinlogPosition } from '../agent/copy-target.js';
import { StallWatch } from '../agent/stall-watch.js';
import { MIB, RateMeter } from '../agent/throttle.js';
import type { BackupStore, PutResult } from '../backup-storage/index.js';
import { INFO_FILES, infoValue } from './manifest.js';
import { XbstreamScan } from './xbstream-scan.js';

export interface StreamedBackup {
  /** The xbstream as sent (checked against the source's trailer). */
  stream: PutResult;
  /** The compressed object as stored. */
  stored: PutResult;
  binlog: BinlogPosition | null;
  toolVersion: string;
  serverVersion: string;
  ms: number;
}

export interface StreamOptions {
  source: CopyStreamSource;
  store: BackupStore;
  key: string;
  /** No byte from the source for this long cuts the stream. */
  stallTimeoutMs: number;
  /** gzip level (1 fastest). */
  level?: number;
  /** MB/s read from the source (spares the node's disk); 0 or absent: no limit. */
  pvLimitMb?: number;
}

/** A running backup stream: its byte count for progress, and its end. */
export class BackupStream {
  private scan = new XbstreamScan(new Set([...BINLOG_INFO_FILES, ...INFO_FILES]));
  private meter: RateMeter | null = null;
  readonly startedAt = Date.now();

  /** Bytes received from the source so far. */
  get bytes(): number {
    return this.meter?.bytes ?? 0;
  }

  async run(o: StreamOptions): Promise<StreamedBackup> {
    let request: ClientRequest | null = null;
    let stalled: Error | null = null;
    const watch = new StallWatch({
      timeoutMs: o.stallTimeoutMs,
      progress: () => this.bytes,
      onStall: (idleMs) => {
        stalled = new Error(`no byte came from the source agent ${o.source.host}:${o.source.agentPort} for ${Math.round(idleMs / 1000)} s; the stream was cut`);
        request?.destroy(stalled);
      },
    });
    try {
      const res = await requestCopyStream(o.source, (r) => (request = r));
      if (res.statusCode !== 200) {
        let body = '';
        for await (const c of res) body += (c as Buffer).toString('utf8');
        throw new Error(`the source agent refused the stream (HTTP ${res.statusCode}): ${body.slice(0, 300)}`);
      }
      // Counts, hashes and (with pvLimitMb) paces the stream as it comes.
      const meter = new RateMeter({ limitBytesPerSec: (o.pvLimitMb ?? 0) * MIB });
      this.meter = meter;
      const gz = createGzip({ level: o.level ?? 1 });
      const [, stored] = await Promise.all([pipeline(res, meter, this.scan, gz), o.store.put(o.key, gz)]);
      if (!res.complete) throw new Error('the stream ended before the source agent finished it');
      const status = String(res.trailers[TRAILER_STATUS] ?? 'sent no status');
      if (status !== 'ok') throw new Error(`the source's mariadb-backup ${status}`);
      const stream = { size: meter.bytes, sha256: meter.hash.digest('hex') };
      const sent = String(res.trailers[TRAILER_SHA] ?? '');
      if (sent !== stream.sha256) throw new Error(`the stream's SHA-256 ${stream.sha256} differs from the source's ${sent || '(none sent)'}`);
      if (this.scan.chunkCount === 0) throw new Error('the source sent an empty stream');
      const binlogText = BINLOG_INFO_FILES.map((f) => this.scan.file(f)).find((t) => t !== undefined);
      const info = INFO_FILES.map((f) => this.scan.file(f)).find((t) => t !== undefined);
      return {
        stream,
        stored,
        binlog: binlogText === undefined ? null : parseBinlogInfo(binlogText),
        toolVersion: infoValue(info, 'tool_version'),
        serverVersion: infoValue(info, 'server_version'),
        ms: Date.now() - this.startedAt,
      };
    } catch (e) {
      throw stalled ?? e;
    } finally {
      watch.stop();
    }
  }
}
