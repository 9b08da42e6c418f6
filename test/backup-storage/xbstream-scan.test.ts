// The xbstream reader that takes the binlog position out of a backup stream as it passes: files kept
// whatever the chunk boundaries, every byte passed through unchanged, a cut or foreign stream refused.
import t from 'tap';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { XbstreamScan } from '../../src/backup/xbstream-scan.js';
import { infoValue } from '../../src/backup/manifest.js';

function chunk(type: 'P' | 'E', path: string, payload = Buffer.alloc(0), offset = 0): Buffer {
  const p = Buffer.from(path);
  const head = Buffer.alloc(8 + 1 + 1 + 4);
  head.write('XBSTCK01', 0, 'latin1');
  head[8] = 0;
  head[9] = type.charCodeAt(0);
  head.writeUInt32LE(p.length, 10);
  if (type === 'E') return Buffer.concat([head, p]);
  const pl = Buffer.alloc(20);
  pl.writeBigUInt64LE(BigInt(payload.length), 0);
  pl.writeBigUInt64LE(BigInt(offset), 8);
  pl.writeUInt32LE(0, 16);
  return Buffer.concat([head, p, pl, payload]);
}

const info = 'mysql-bin.000003\t1234\t0-1-42\n';
const big = Buffer.alloc(300_000, 7);
const stream = Buffer.concat([
  chunk('P', 'ibdata1', big.subarray(0, 150_000)),
  chunk('P', 'ibdata1', big.subarray(150_000), 150_000),
  chunk('E', 'ibdata1'),
  chunk('P', 'xtrabackup_binlog_info', Buffer.from(info.slice(0, 10))),
  chunk('P', 'xtrabackup_binlog_info', Buffer.from(info.slice(10)), 10),
  chunk('E', 'xtrabackup_binlog_info'),
  chunk('P', 'xtrabackup_info', Buffer.from('tool_name = mariabackup\ntool_version = 10.11.6-MariaDB\n')),
  chunk('E', 'xtrabackup_info'),
]);

async function scan(pieces: Buffer[]): Promise<{ scan: XbstreamScan; out: Buffer }> {
  const s = new XbstreamScan(new Set(['xtrabackup_binlog_info', 'xtrabackup_info']));
  const got: Buffer[] = [];
  await pipeline(Readable.from(pieces), s, new Writable({ write: (c: Buffer, _e, cb) => (got.push(c), cb()) }));
  return { scan: s, out: Buffer.concat(got) };
}

t.test('files are kept whatever the chunk boundaries; bytes pass unchanged', async (t) => {
  for (const size of [1, 7, 13, 64, 4096, stream.length]) {
    const pieces: Buffer[] = [];
    for (let i = 0; i < stream.length; i += size) pieces.push(stream.subarray(i, i + size));
    const { scan: s, out } = await scan(pieces);
    t.ok(out.equals(stream), `pieces of ${size}: passed through unchanged`);
    t.equal(s.file('xtrabackup_binlog_info'), info, `pieces of ${size}: the binlog info`);
    t.equal(infoValue(s.file('xtrabackup_info'), 'tool_version'), '10.11.6-MariaDB');
    t.equal(s.file('ibdata1'), undefined, 'files not asked for are not kept');
    t.equal(s.chunkCount, 8);
  }
});

t.test('a cut stream and a foreign one are refused', async (t) => {
  await t.rejects(scan([stream.subarray(0, stream.length - 5)]), /ended inside a chunk/);
  await t.rejects(scan([Buffer.from('PK\x03\x04 this is a zip file, not a backup')]), /no XBSTCK01 magic/);
  const sparse = chunk('P', 'x');
  sparse[9] = 'S'.charCodeAt(0);
  await t.rejects(scan([sparse]), /type "S"/);
});
