// Benchmark: the bulk copy of expand_cluster (src/storage-node/table-copy.ts: key chunks on 4 parallel
// connections, multi-row INSERTs, no files) against `mariadb-dump --single-transaction | mariadb` of the
// same table between the same two servers in the same run. Two one-node MariaDB shards started by the
// project's launcher in a temp dir; a table of --size-mb MiB (BIGINT key, ~1 KiB rows); each copy is
// checked with the move's own chunk checksums against the source. Prints a table and one JSON line.
//
//   npm run bench:expand [-- --size-mb 1024 --trials 2]
import os from 'node:os';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { optionValue } from '../../src/agent/copy-source.js';
import { writeSecretFile } from '../../src/config/secret-file.js';
import { makeRunDir, startShard, type LaunchedShard } from '../../src/launcher/index.js';
import { chunkSum, chunksOf, copyChunk, inParallel } from '../../src/storage-node/table-copy.js';
import { describeTable, type TableShape } from '../../src/storage-node/table-shape.js';
import { rmSync } from 'node:fs';

const ADMIN = { user: 'bench', password: 'bench-Pw-1' };
const REPL = { user: 'repl', password: 'repl-Pw-2' };
const DB = 'postgres_$$_public';
const { values: args } = parseArgs({ options: { 'size-mb': { type: 'string', default: '256' }, trials: { type: 'string', default: '1' } } });
const sizeMb = Number(args['size-mb']);
const trials = Number(args.trials);

const log = (s: string): void => console.error(`[bench:expand] ${s}`);

function pool(s: LaunchedShard, database?: string) {
  return mysql.createPool({ host: s.primary.host, port: s.primary.port, user: ADMIN.user, password: ADMIN.password, connectionLimit: 4, dateStrings: true, supportBigNumbers: true, bigNumberStrings: true, ...(database ? { database } : {}) });
}

/** Runs `prog args` (the account in a 0600 option file, never on the command line); resolves on exit 0. */
function run(prog: string, argv: string[], stdin?: NodeJS.ReadableStream): { proc: ReturnType<typeof spawn>; done: Promise<void> } {
  const proc = spawn(prog, argv, { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  if (stdin) stdin.pipe(proc.stdin!);
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-1000)));
  const done = new Promise<void>((res, rej) => proc.once('close', (code) => (code === 0 ? res() : rej(new Error(`${prog} exited ${code}: ${err.trim()}`)))));
  return { proc, done };
}

async function dumpPipe(src: LaunchedShard, dst: LaunchedShard, dir: string, target: string): Promise<void> {
  const cnf = (s: LaunchedShard, name: string) => {
    const f = join(dir, name);
    writeSecretFile(f, ['[client]', `user=${optionValue(ADMIN.user)}`, `password=${optionValue(ADMIN.password)}`, `host=${s.primary.host}`, `port=${s.primary.port}`, ''].join('\n'));
    return f;
  };
  const a = cnf(src, 'src.cnf');
  const b = cnf(dst, 'dst.cnf');
  const dump = run('mariadb-dump', [`--defaults-extra-file=${a}`, '--single-transaction', '--quick', '--skip-lock-tables', DB, 't']);
  const load = run('mariadb', [`--defaults-extra-file=${b}`, target], dump.proc.stdout!);
  await Promise.all([dump.done, load.done]);
}

async function sums(p: mysql.Pool, s: TableShape): Promise<string> {
  const out: string[] = [];
  for (const ch of await chunksOf(p, s, 20_000)) {
    const r = await chunkSum(p, s, s.table, ch);
    out.push(`${r.rows}:${r.crc}`);
  }
  return out.join(',');
}

async function main(): Promise<void> {
  const dir = makeRunDir('bench-expand');
  log(`starting two one-node shards in ${dir}`);
  const src = await startShard({ dir: join(dir, 's1'), nodes: 1, admin: ADMIN, repl: REPL, firstServerId: 1 });
  const dst = await startShard({ dir: join(dir, 's2'), nodes: 1, admin: ADMIN, repl: REPL, firstServerId: 11 });
  // One-node shards: no replica could acknowledge a semi-sync commit.
  for (const sh of [src, dst]) {
    const c = await sh.primary.connect();
    await c.query('SET GLOBAL rpl_semi_sync_master_enabled = 0');
    await c.end();
  }
  const rowsWanted = Math.ceil((sizeMb * 1024 * 1024) / 1100);
  const results: Record<string, unknown>[] = [];
  try {
    const c = await src.primary.connect();
    await c.query(`CREATE DATABASE \`${DB}\``);
    await c.query(`CREATE TABLE \`${DB}\`.t (id BIGINT NOT NULL PRIMARY KEY, n INT, pad VARCHAR(1024)) ENGINE=InnoDB`);
    log(`loading ${rowsWanted} rows (~${sizeMb} MiB)`);
    for (let a = 1; a <= rowsWanted; a += 50_000) {
      const b = Math.min(rowsWanted, a + 49_999);
      await c.query(`INSERT INTO \`${DB}\`.t SELECT seq, seq % 1000, REPEAT(MD5(seq), 32) FROM \`${DB}\`.seq_${a}_to_${b}`);
    }
    await c.query(`ANALYZE TABLE \`${DB}\`.t`);
    const [[sz]] = await c.query<RowDataPacket[]>('SELECT data_length + index_length AS b FROM information_schema.tables WHERE table_schema = ? AND table_name = ?', [DB, 't']);
    const mib = Number(sz!.b) / 1024 / 1024;
    const shape = (await describeTable(c, DB, 't'))!;
    await c.end();
    const sp = pool(src);
    const want = await sums(sp, shape);
    const d = await dst.primary.connect();
    for (let trial = 1; trial <= trials; trial++) {
      for (const how of ['expand copy', 'mariadb-dump → mariadb'] as const) {
        await d.query(`DROP DATABASE IF EXISTS \`${DB}\``);
        await d.query(`CREATE DATABASE \`${DB}\``);
        await d.query(`CREATE TABLE \`${DB}\`.t (id BIGINT NOT NULL PRIMARY KEY, n INT, pad VARCHAR(1024)) ENGINE=InnoDB`);
        const dp = pool(dst);
        const t0 = Date.now();
        if (how === 'expand copy') {
          await inParallel(await chunksOf(sp, shape, 20_000), 4, async (ch) => void (await copyChunk(sp, dp, shape, ch)));
        } else {
          await dumpPipe(src, dst, dir, DB);
        }
        const s = (Date.now() - t0) / 1000;
        const same = (await sums(dp, shape)) === want;
        await dp.end();
        results.push({ trial, how, mib: +mib.toFixed(1), s: +s.toFixed(1), mib_per_s: +(mib / s).toFixed(1), same });
        log(`trial ${trial} ${how}: ${s.toFixed(1)} s, ${(mib / s).toFixed(1)} MiB/s, same checksums: ${same}`);
      }
    }
    await d.end();
    await sp.end();
  } finally {
    await Promise.all([...src.nodes, ...dst.nodes].map((n) => n.kill9()));
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`size ${sizeMb} MiB asked, ${os.cpus().length} CPUs, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log('| trial | copy | MiB | s | MiB/s | same checksums |\n|---|---|---|---|---|---|');
  for (const r of results) console.log(`| ${String(r.trial)} | ${String(r.how)} | ${String(r.mib)} | ${String(r.s)} | ${String(r.mib_per_s)} | ${r.same ? 'yes' : 'NO'} |`);
  console.log(JSON.stringify({ bench: 'expand', results }));
}

await main();
