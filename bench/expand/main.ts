// Benchmark: a whole expand_cluster move (the real handler, bench/expand/move.ts) of a table under a
// steady writer, and its bulk copy against `mariadb-dump --single-transaction | mariadb` of the same
// table between the same two servers in the same run. Two one-node MariaDB shards started by the
// project's launcher in a temp dir; a table of --size-mb MiB (BIGINT key, ~1 KiB rows). Each trial
// moves the table to the other shard (1 → 2, then 2 → 1, …): first the dump pipe into the destination
// (checked with the move's chunk checksums, then dropped), then the move while a writer
// (test/helpers/routed-writer.ts) inserts and updates where the bench's routing says the table is.
// Reported per trial: copy MiB/s of both, the writer's longest gap between acknowledged writes and
// the share of the verify step in it, acknowledged inserts and updates lost, rows duplicated or
// unexpected. Prints a table, a summary against the goals and one JSON line.
//
//   npm run bench:expand [-- --size-mb 256 --trials 3]
import os from 'node:os';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { optionValue } from '../../src/agent/copy-source.js';
import { writeSecretFile } from '../../src/config/secret-file.js';
import { makeRunDir, startShard, type LaunchedShard } from '../../src/launcher/index.js';
import { chunkSum, chunksOf } from '../../src/storage-node/table-copy.js';
import { describeTable, type TableShape } from '../../src/storage-node/table-shape.js';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { gapAt, RoutedWriter } from '../../test/helpers/routed-writer.js';
import { runMove, type StepTime } from './move.js';

const ADMIN = { user: 'bench', password: 'bench-Pw-1' };
const REPL = { user: 'repl', password: 'repl-Pw-2' };
const DB = 'postgres_$$_public';
const TABLE = 'postgres.public.t';
const DDL = `CREATE TABLE \`${DB}\`.t (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(64), n INT, pad VARCHAR(1024)) ENGINE=InnoDB`;
const { values: args } = parseArgs({ options: { 'size-mb': { type: 'string', default: '256' }, trials: { type: 'string', default: '3' } } });
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

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function tableMib(s: LaunchedShard): Promise<number> {
  const c = await s.primary.connect();
  try {
    await c.query(`ANALYZE TABLE \`${DB}\`.t`);
    const [[sz]] = await c.query<RowDataPacket[]>('SELECT data_length + index_length AS b FROM information_schema.tables WHERE table_schema = ? AND table_name = ?', [DB, 't']);
    return Number(sz!.b) / 1024 / 1024;
  } finally {
    await c.end();
  }
}

/** The dump pipe into `dst` (a fresh database there), timed and checked against the source; then dropped. */
async function dumpTrial(src: LaunchedShard, dst: LaunchedShard, dir: string): Promise<{ s: number; same: boolean }> {
  const sp = pool(src);
  const d = await dst.primary.connect();
  try {
    const c = await src.primary.connect();
    const shape = (await describeTable(c, DB, 't'))!;
    await c.end();
    const want = await sums(sp, shape);
    await d.query(`DROP DATABASE IF EXISTS \`${DB}\``);
    await d.query(`CREATE DATABASE \`${DB}\``);
    await d.query(DDL);
    const t0 = Date.now();
    await dumpPipe(src, dst, dir, DB);
    const s = (Date.now() - t0) / 1000;
    const dp = pool(dst);
    const same = (await sums(dp, shape)) === want;
    await dp.end();
    await d.query(`DROP DATABASE \`${DB}\``);
    return { s, same };
  } finally {
    await d.end();
    await sp.end();
  }
}

async function main(): Promise<void> {
  const dir = makeRunDir('bench-expand');
  log(`starting two one-node shards in ${dir}`);
  const shards: Record<number, LaunchedShard> = {
    1: await startShard({ dir: join(dir, 's1'), nodes: 1, admin: ADMIN, repl: REPL, firstServerId: 1 }),
    2: await startShard({ dir: join(dir, 's2'), nodes: 1, admin: ADMIN, repl: REPL, firstServerId: 11 }),
  };
  // One-node shards: no replica could acknowledge a semi-sync commit.
  for (const sh of Object.values(shards)) {
    const c = await sh.primary.connect();
    await c.query('SET GLOBAL rpl_semi_sync_master_enabled = 0');
    await c.end();
  }
  const rowsWanted = Math.ceil((sizeMb * 1024 * 1024) / 1100);
  const results: Record<string, unknown>[] = [];
  // Every insert any writer had acknowledged, and those of unknown outcome: the table keeps them all.
  const acked = new Set<number>();
  const maybe = new Set<number>();
  let nextId = rowsWanted + 1;
  try {
    const c = await shards[1]!.primary.connect();
    await c.query(`CREATE DATABASE \`${DB}\``);
    await c.query(DDL);
    log(`loading ${rowsWanted} rows (~${sizeMb} MiB)`);
    for (let a = 1; a <= rowsWanted; a += 50_000) {
      const b = Math.min(rowsWanted, a + 49_999);
      await c.query(`INSERT INTO \`${DB}\`.t SELECT seq, CONCAT('r', seq), seq % 1000, REPEAT(MD5(seq), 32) FROM \`${DB}\`.seq_${a}_to_${b}`);
    }
    await c.end();
    for (let trial = 1; trial <= trials; trial++) {
      const [from, to] = trial % 2 === 1 ? [1, 2] : [2, 1];
      const load0 = os.loadavg()[0]!;
      const mib = await tableMib(shards[from]!);
      const dump = await dumpTrial(shards[from]!, shards[to]!, dir);
      log(`trial ${trial} mariadb-dump → mariadb ${from} → ${to}: ${dump.s.toFixed(1)} s, ${(mib / dump.s).toFixed(1)} MiB/s, same checksums: ${dump.same}`);

      let routed = from;
      const writer = new RoutedWriter({
        connect: (shard) => mysql.createConnection({ host: shards[shard]!.primary.host, port: shards[shard]!.primary.port, user: ADMIN.user, password: ADMIN.password, database: DB }),
        route: () => Promise.resolve(routed),
        existing: rowsWanted,
        firstId: nextId,
      });
      writer.start();
      while (writer.inserted.length < 50) await sleep(20);
      const move = await runMove({
        job: trial,
        shards,
        src: from,
        dst: to,
        tables: [TABLE],
        admin: ADMIN,
        onStep: (st) => {
          log(`trial ${trial} move: ${st.step} ${st.to - st.from} ms`);
          if (st.step === 'reroute_table') routed = to;
        },
      });
      const settled = writer.inserted.length;
      while (writer.inserted.length < settled + 50) await sleep(20);
      await writer.stop();
      nextId += writer.inserted.length + writer.maybeInserted.length + writer.errors + 1;
      for (const id of writer.inserted) acked.add(id);
      for (const id of writer.maybeInserted) maybe.add(id);

      // Every acknowledged row on the destination once, nothing else; the last acknowledged update of each row kept.
      const d = await shards[to]!.primary.connect();
      const [rows] = await d.query<RowDataPacket[]>(`SELECT id, v FROM \`${DB}\`.t`);
      await d.end();
      const onDst = new Map<number, string>();
      let dup = 0;
      for (const r of rows) {
        const id = Number(r.id);
        if (onDst.has(id) || (id > rowsWanted && !acked.has(id) && !maybe.has(id))) dup++;
        onDst.set(id, String(r.v));
      }
      const lost = [...acked].filter((id) => !onDst.has(id)).length + [...Array(rowsWanted).keys()].filter((i) => !onDst.has(i + 1)).length;
      const lostUpdates = [...writer.updated].filter(([id, v]) => !writer.maybeUpdated.has(id) && onDst.get(id) !== v).length;

      const step = (name: string): StepTime => move.steps.find((x) => x.step === name)!;
      const copied = step('dump_table').result as { rows: number; seconds: number };
      const renamedAt = Number((step('rename_table').result as { renamed_at: number }).renamed_at);
      const verify = step('verify_table');
      const verifyMs = verify.to - verify.from;
      const pause = writer.longest;
      // The cut-over's pause: the gap across the rename (none when a write was acknowledged right at it).
      const cut = gapAt(writer.gaps, renamedAt) ?? { ms: 0, from: renamedAt, to: renamedAt };
      // How much of the longest gap the verify step covers.
      const verifyInPause = Math.max(0, Math.min(cut.to, verify.to) - Math.max(cut.from, verify.from));
      const r = {
        trial,
        from,
        to,
        mib: +mib.toFixed(1),
        dump_s: +dump.s.toFixed(1),
        dump_mib_per_s: +(mib / dump.s).toFixed(1),
        dump_same: dump.same,
        copy_s: copied.seconds,
        copy_rows: copied.rows,
        copy_mib_per_s: +(mib / copied.seconds).toFixed(1),
        cutover_gap_ms: cut.ms,
        pause_ms: pause.ms,
        cutover_ms: step('reroute_table').to - renamedAt,
        verify_ms: verifyMs,
        verify_in_pause_ms: verifyInPause,
        // The steps that ran during the longest gap of the whole move.
        pause_steps: move.steps.filter((x) => x.from < pause.to && x.to > pause.from).map((x) => x.step).join('+') || 'none',
        writes_acked: writer.inserted.length + writer.updated.size,
        inserts_acked: writer.inserted.length,
        writer_errors: writer.errors,
        lost,
        lost_updates: lostUpdates,
        duplicated: dup,
        load: `${load0.toFixed(1)}–${os.loadavg()[0]!.toFixed(1)}`,
      };
      results.push(r);
      log(`trial ${trial}: ${JSON.stringify(r)}`);
    }
  } finally {
    await Promise.all(Object.values(shards).flatMap((s) => s.nodes.map((n) => n.kill9())));
    rmSync(dir, { recursive: true, force: true });
  }
  const pauses = results.map((r) => Number(r.cutover_gap_ms));
  console.log(`size ${sizeMb} MiB asked, ${trials} trials, ${os.cpus().length} CPUs`);
  console.log('| trial | move | MiB | dump→mariadb MiB/s | move copy MiB/s | copy / dump | write gap at cut-over ms | rename→reroute ms | verify ms (in cut-over gap) | longest gap of the move ms (steps) | inserts acked | lost | lost updates | duplicated | load (1 min) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const n = (k: string) => Number(r[k]);
    console.log(
      `| ${n('trial')} | ${n('from')} → ${n('to')} | ${n('mib')} | ${n('dump_mib_per_s')}${r.dump_same ? '' : ' (checksums DIFFER)'} | ${n('copy_mib_per_s')} | ${(n('copy_mib_per_s') / n('dump_mib_per_s')).toFixed(2)}× | ${n('cutover_gap_ms')} | ${n('cutover_ms')} | ${n('verify_ms')} (${n('verify_in_pause_ms')}) | ${n('pause_ms')} (${String(r.pause_steps)}) | ${n('inserts_acked')} | ${n('lost')} | ${n('lost_updates')} | ${n('duplicated')} | ${String(r.load)} |`,
    );
  }
  const med = median(pauses);
  const max = Math.max(...pauses);
  console.log(`write gap at cut-over: median ${med} ms (goal ≤ 300), max ${max} ms (goal ≤ 1000); lost ${results.reduce((a, r) => a + Number(r.lost) + Number(r.lost_updates), 0)}, duplicated ${results.reduce((a, r) => a + Number(r.duplicated), 0)} (goal 0)`);
  console.log(JSON.stringify({ bench: 'expand', pause_median_ms: med, pause_max_ms: max, results }));
}

await main();
