// The data of the rebuild benchmark: wide rows of random bytes (incompressible, so no stage of the copy
// gets an easy ride) written to the shard's primary in transactions of bounded size by a few parallel
// writers, until the tables' files on disk hold the asked size; then every replica is waited for.
import { join } from 'node:path';
import { treeBytes } from '../../src/agent/disk.js';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { caughtUp, type AgentShard } from '../../test/e2e/agent-shard.js';
import { log, mib, secs } from '../failover/common.js';

export const BENCH_DB = 'bench_rebuild';
/** Bytes of payload per row (two RANDOM_BYTES(1024): its maximum is 1024). */
const ROW_BYTES = 2_048;
/** Rows per INSERT … SELECT: ~16 MiB transactions keep the binlog cache and each semi-sync wait small. */
const BATCH_ROWS = 8_192;

export interface LoadResult {
  /** The benchmark tables' files on the primary. */
  tableBytes: number;
  rows: number;
  ms: number;
}

/**
 * Fills `writers` tables on the primary until their files hold `targetBytes`. `connect` opens an
 * admin connection to the primary; `primaryDataDir` is where its files are (same machine).
 */
export async function loadData(o: {
  connect: () => Promise<Connection>;
  primaryDataDir: string;
  targetBytes: number;
  writers: number;
  progress: (bytes: number) => void;
}): Promise<LoadResult> {
  const started = Date.now();
  const setup = await o.connect();
  try {
    await setup.query(`CREATE DATABASE IF NOT EXISTS ${BENCH_DB}`);
    for (let i = 0; i < o.writers; i++) {
      await setup.query(`CREATE TABLE IF NOT EXISTS ${BENCH_DB}.t${i} (id BIGINT AUTO_INCREMENT PRIMARY KEY, pad VARBINARY(${ROW_BYTES}) NOT NULL) ENGINE=InnoDB`);
    }
  } finally {
    await setup.end();
  }
  const dbDir = join(o.primaryDataDir, BENCH_DB);
  let onDisk = treeBytes(dbDir);
  let rows = 0;
  let lastReport = 0;
  const writer = async (i: number): Promise<void> => {
    const c = await o.connect();
    try {
      while (onDisk < o.targetBytes) {
        const [r] = await c.query<RowDataPacket[]>(
          `INSERT INTO ${BENCH_DB}.t${i} (pad) SELECT CONCAT(RANDOM_BYTES(1024), RANDOM_BYTES(1024)) FROM ${BENCH_DB}.seq_1_to_${BATCH_ROWS}`,
        );
        rows += Number((r as unknown as { affectedRows: number }).affectedRows);
        onDisk = treeBytes(dbDir);
        if (onDisk - lastReport >= 256 * 1024 * 1024) {
          lastReport = onDisk;
          o.progress(onDisk);
        }
      }
    } finally {
      await c.end();
    }
  };
  await Promise.all(Array.from({ length: o.writers }, (_, i) => writer(i)));
  return { tableBytes: treeBytes(dbDir), rows, ms: Date.now() - started };
}

const MIB = 1024 * 1024;

/**
 * The benches' set-up (rebuild, backup): the shard settled, `sizeGb` GiB loaded through its primary by
 * `writers` writers, and every replica caught up with it.
 */
export async function startLoadedShard(bed: AgentShard, sizeGb: number, writers: number): Promise<{ settled: Awaited<ReturnType<AgentShard['settled']>>; loaded: LoadResult }> {
  log('starting the metadata shard, 3 manager members and the node agent; create_cluster (1 shard × 3 nodes)');
  await bed.start();
  const settled = await bed.settled(180_000);
  log(`primary ${settled.primary.port}; loading ${sizeGb} GiB`);
  const loaded = await loadData({
    connect: () => bed.adminConnection(settled.primary.port),
    primaryDataDir: join(bed.env.base, 'storage', String(settled.primary.port), 'data'),
    targetBytes: Math.round(sizeGb * 1024 * MIB),
    writers,
    progress: (b) => log(`loaded ${mib(b)} MiB`),
  });
  const pc = await bed.adminConnection(settled.primary.port);
  try {
    for (const r of settled.nodes.filter((n) => n.id !== settled.primary.id)) {
      const rc = await bed.adminConnection(r.port);
      try {
        await caughtUp(pc, rc, 3_600);
      } finally {
        await rc.end();
      }
    }
  } finally {
    await pc.end();
  }
  log(`loaded ${loaded.rows} rows, ${mib(loaded.tableBytes)} MiB of table files in ${secs(loaded.ms)} s; replicas caught up`);
  return { settled, loaded };
}
