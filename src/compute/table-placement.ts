// Where a compute node looks up a table's shard. kunlun-server keeps it in its catalog
// (pg_class.relshardid); on PostgreSQL, which stands in for it, the same fact lives in
// kunlun.table_shards, one row per moved table. A table without a row is on the shard it was
// created on. expand_cluster's reroute step writes the rows of the tables it moved on every compute
// node of the cluster.
import type pg from 'pg';
import type { TableRef } from '../storage-node/table-shape.js';

const DDL =
  'CREATE TABLE IF NOT EXISTS kunlun.table_shards (db_name text NOT NULL, schema_name text NOT NULL, table_name text NOT NULL, ' +
  'shard_id integer NOT NULL, PRIMARY KEY (db_name, schema_name, table_name))';

/** Records that `tables` are on `shard` (one transaction; a rerun writes the same rows). */
export async function setTableShard(c: pg.Client, tables: readonly TableRef[], shard: number): Promise<void> {
  await c.query('BEGIN');
  try {
    await c.query('CREATE SCHEMA IF NOT EXISTS kunlun');
    await c.query(DDL);
    for (const t of tables) {
      await c.query(
        'INSERT INTO kunlun.table_shards (db_name, schema_name, table_name, shard_id) VALUES ($1, $2, $3, $4) ' +
          'ON CONFLICT (db_name, schema_name, table_name) DO UPDATE SET shard_id = EXCLUDED.shard_id',
        [t.db, t.schema, t.table, shard],
      );
    }
    await c.query('COMMIT');
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** The shard a compute node routes `t` to, or null when it has no row (the shard it was created on). */
export async function tableShard(c: pg.Client, t: TableRef): Promise<number | null> {
  const has = await c.query<{ r: string | null }>("SELECT to_regclass('kunlun.table_shards')::text AS r");
  if (has.rows[0]?.r == null) return null;
  const r = await c.query<{ shard_id: number }>('SELECT shard_id FROM kunlun.table_shards WHERE db_name = $1 AND schema_name = $2 AND table_name = $3', [t.db, t.schema, t.table]);
  return r.rows[0]?.shard_id ?? null;
}
