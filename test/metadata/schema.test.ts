// kunlun_metadata_db on a real MariaDB with lower_case_table_names=1: creation, idempotency, names
// case-insensitive as compute nodes expect, version checks, adoption of an original-made schema,
// per-cluster commit/DDL logs (the unique key XA resolution relies on) and the DDL log procedure.
import t from 'tap';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import {
  IdentifierError,
  SCHEMA_VERSION,
  SchemaError,
  TABLES,
  commitLogPartitions,
  createSchema,
  dropClusterLogTables,
  dropCommitLogPartition,
  ensureClusterLogTables,
  ensureCommitLogPartition,
  schemaVersion,
} from '../../src/metadata/index.js';
import { startMetaServer, type MetaServer } from './fixtures.js';

let meta: MetaServer;
let plain: MetaServer;
let c: Connection;

t.before(async () => {
  const t0 = Date.now();
  [meta, plain] = await Promise.all([startMetaServer('meta-schema'), startMetaServer('meta-schema-lc0', false)]);
  c = await meta.connect();
  t.comment(`two MariaDB servers up in ${Date.now() - t0} ms`);
});
t.teardown(async () => {
  await c?.end().catch(() => undefined);
  await Promise.all([meta?.destroy(), plain?.destroy()]);
});

const DB = 'kunlun_metadata_db';
const CLUSTER = 'cluster_1685613600_000001';

async function snapshot(conn: Connection, db: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const [tables] = await conn.query<RowDataPacket[]>(
    'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME',
    [db],
  );
  for (const { t: name } of tables) {
    const [ddl] = await conn.query<RowDataPacket[]>(`SHOW CREATE TABLE \`${db}\`.\`${String(name)}\``);
    const [rows] = await conn.query<RowDataPacket[]>(`SELECT * FROM \`${db}\`.\`${String(name)}\``);
    out[String(name)] = `${String(ddl[0]!['Create Table'])}\n${JSON.stringify(rows)}`;
  }
  const [procs] = await conn.query<RowDataPacket[]>(
    'SELECT ROUTINE_NAME AS n, ROUTINE_DEFINITION AS d FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?',
    [db],
  );
  for (const p of procs) out[`proc ${String(p.n)}`] = String(p.d);
  return out;
}

t.test('a server without lower_case_table_names=1 is refused with a clear error', async (t) => {
  const c0 = await plain.connect();
  await t.rejects(createSchema(c0), { name: 'SchemaError', message: /lower_case_table_names=0; it must be 1/ });
  const [dbs] = await c0.query<RowDataPacket[]>('SHOW DATABASES LIKE ?', [DB]);
  t.equal(dbs.length, 0, 'nothing was created');
  await c0.end();
});

t.test('fresh creation: every table, the pseudo server row, the procedure, the version', async (t) => {
  const r = await createSchema(c, { metaHaMode: 'rbr' });
  t.equal(r.origin, 'fresh');
  t.equal(r.version, SCHEMA_VERSION);
  t.strictSame(r.created.filter((x) => !x.endsWith('()')).sort(), TABLES.map((x) => x.name).sort(), 'all tables created');
  t.ok(r.created.includes('append_ddl_log_entry()'));
  t.equal(await schemaVersion(c), SCHEMA_VERSION);

  const [pseudo] = await c.query<RowDataPacket[]>(`SELECT id, hostaddr, machine_type FROM ${DB}.server_nodes`);
  t.strictSame(pseudo.map((x) => ({ ...x })), [{ id: 1, hostaddr: 'pseudo_server_useless', machine_type: null }]);
  // XPanel reads the meta HA mode as the first row of an unordered SELECT.
  const [gc] = await c.query<RowDataPacket[]>(`SELECT value FROM ${DB}.global_configuration`);
  t.equal(gc[0]!.value, 'rbr');
  const [proj] = await c.query<RowDataPacket[]>(`SELECT applied_index, term FROM ${DB}.cluster_mgr_projection WHERE id = 1`);
  t.strictSame({ ...proj[0] }, { applied_index: 0, term: 0 });
});

t.test('enum values are in the original order for every enum column', async (t) => {
  const [cols] = await c.query<RowDataPacket[]>(
    'SELECT TABLE_NAME AS t, COLUMN_NAME AS c, COLUMN_TYPE AS ty FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND DATA_TYPE = ?',
    [DB, 'enum'],
  );
  const byKey = new Map(cols.map((x) => [`${String(x.t)}.${String(x.c)}`, String(x.ty)]));
  let n = 0;
  for (const spec of TABLES) {
    for (const col of spec.columns) {
      if (!col.enumValues) continue;
      n++;
      t.equal(byKey.get(`${spec.name}.${col.name}`), `enum(${col.enumValues.map((v) => `'${v}'`).join(',')})`, `${spec.name}.${col.name}`);
    }
  }
  t.ok(n >= 30, `${n} enum columns checked`);
  t.equal(byKey.get('cluster_general_job_log.status'), "enum('not_started','ongoing','done','failed')", '1.0 writes status=2/3/4 by index');
  t.equal(byKey.get('shard_nodes.status'), "enum('creating','inactive','active','deleted','manual_stop')");
  t.equal(byKey.get('shard_nodes.backup_node'), "enum('OFF','ON')");
});

t.test('commit_log_template_table: LIST by compute node with pplaceholder, 32 hash subpartitions, unique (comp_node_id, txn_id)', async (t) => {
  const [parts] = await c.query<RowDataPacket[]>(
    'SELECT PARTITION_NAME AS p, PARTITION_METHOD AS m, SUBPARTITION_METHOD AS sm, PARTITION_DESCRIPTION AS d, COUNT(*) AS n ' +
      'FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? GROUP BY 1, 2, 3, 4',
    [DB, 'commit_log_template_table'],
  );
  t.strictSame(parts.map((x) => ({ ...x })), [{ p: 'pplaceholder', m: 'LIST', sm: 'HASH', d: 'NULL', n: 32 }]);
  const [keys] = await c.query<RowDataPacket[]>(
    'SELECT INDEX_NAME AS k, NON_UNIQUE AS nu, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS cols ' +
      'FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? GROUP BY 1, 2 ORDER BY 1',
    [DB, 'commit_log_template_table'],
  );
  t.strictSame(keys.map((x) => ({ ...x })), [
    { k: 'comp_node_txn', nu: 0, cols: 'comp_node_id,txn_id' },
    { k: 'PRIMARY', nu: 0, cols: 'id,comp_node_id,txn_id' },
  ]);
});

t.test('running it again changes nothing', async (t) => {
  const before = await snapshot(c, DB);
  const r = await createSchema(c, { metaHaMode: 'mgr' });
  t.equal(r.origin, 'ours');
  t.strictSame(r.created, [], 'nothing created');
  t.match(r.notes.join('\n'), /meta_ha_mode is rbr; left as it is/);
  t.strictSame(await snapshot(c, DB), before, 'every table definition, every row and the procedure are as they were');
});

t.test('names are case-insensitive, as compute nodes and the original scripts use them', async (t) => {
  const mixed = await meta.connect('Kunlun_Metadata_DB');
  const [a] = await mixed.query<RowDataPacket[]>('SELECT hostaddr FROM Server_Nodes WHERE id = ?', [1]);
  t.equal(a[0]!.hostaddr, 'pseudo_server_useless');
  const [b] = await mixed.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM KUNLUN_METADATA_DB.DB_Clusters');
  t.equal(Number(b[0]!.n), 0);
  await mixed.end();
  const r = await createSchema(c, { database: 'Kunlun_Metadata_DB' });
  t.equal(r.database, 'kunlun_metadata_db');
  t.equal(r.origin, 'ours', 'the mixed-case name finds the same schema');
  t.strictSame(r.created, []);
});

t.test('an unknown or newer recorded version is refused, and so is a missing one', async (t) => {
  await c.query(`UPDATE ${DB}.cluster_mgr_schema SET version = ? WHERE id = 1`, [SCHEMA_VERSION + 98]);
  await t.rejects(createSchema(c), { name: 'SchemaError', message: new RegExp(`schema version ${SCHEMA_VERSION + 98}, newer than this cluster_mgr knows`) });
  await c.query(`UPDATE ${DB}.cluster_mgr_schema SET version = ? WHERE id = 1`, [0]);
  await t.rejects(createSchema(c), /schema version 0 and there is no migration/);
  await c.query(`DELETE FROM ${DB}.cluster_mgr_schema`);
  await t.rejects(createSchema(c), /records no version/);
  await c.query(`INSERT INTO ${DB}.cluster_mgr_schema (id, version, adopted_from) VALUES (1, ?, 'fresh')`, [SCHEMA_VERSION]);
  t.equal((await createSchema(c)).origin, 'ours');
});

t.test("an old original schema (2020 shard_nodes, no member_state) is an unknown version: named problems, nothing created", async (t) => {
  await c.query('CREATE DATABASE kmeta_old');
  await c.query(`CREATE TABLE kmeta_old.shard_nodes (
    id int unsigned NOT NULL AUTO_INCREMENT, ro_weight smallint DEFAULT '0', hostaddr varchar(8192) NOT NULL,
    port smallint unsigned NOT NULL, user_name varchar(64) NOT NULL, passwd varchar(120) NOT NULL,
    shard_id int unsigned NOT NULL, db_cluster_id int unsigned NOT NULL, svr_node_id int unsigned NOT NULL,
    when_created timestamp NULL DEFAULT CURRENT_TIMESTAMP, master_priority smallint NOT NULL default 1,
    status enum('creating','inactive','active') DEFAULT 'creating', PRIMARY KEY (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8`);
  let err: SchemaError | undefined;
  try {
    await createSchema(c, { database: 'kmeta_old' });
  } catch (e) {
    err = e as SchemaError;
  }
  t.type(err, SchemaError);
  t.match(err!.message, /kmeta_old exists but is of an unknown version/);
  t.ok(err!.problems.includes('shard_nodes.member_state is missing'), 'missing column named');
  t.ok(err!.problems.includes('shard_nodes.status lacks enum values deleted, manual_stop'), 'missing enum values named');
  const [tables] = await c.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', ['kmeta_old']);
  t.equal(Number(tables[0]!.n), 1, 'no table added');
});

t.test('a schema made by the original scripts (as Kunlun_Metadata_DB) is adopted: rows kept, the rest added, version recorded', async (t) => {
  await c.query('CREATE DATABASE Kmeta_Adopt');
  await c.query(`CREATE TABLE Kmeta_Adopt.db_clusters (
    id int unsigned NOT NULL AUTO_INCREMENT, name varchar(120) NOT NULL, nick_name varchar(120), owner varchar(120) NOT NULL,
    ddl_log_tblname varchar(120) NOT NULL, when_created timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    business varchar(120) NOT NULL, memo text, status enum('inuse','deleted') NOT NULL DEFAULT 'inuse',
    ha_mode enum('no_rep','mgr','rbr') not null, PRIMARY KEY (id), UNIQUE KEY name (name)) ENGINE=InnoDB DEFAULT CHARSET=utf8`);
  await c.query(`CREATE TABLE Kmeta_Adopt.global_configuration (name varchar(128) NOT NULL, value varchar(128), PRIMARY KEY (name)) ENGINE=InnoDB DEFAULT CHARSET=utf8`);
  await c.query("INSERT INTO Kmeta_Adopt.global_configuration VALUES ('meta_ha_mode', 'mgr')");
  await c.query("INSERT INTO KMETA_ADOPT.db_clusters (name, owner, ddl_log_tblname, business, ha_mode) VALUES ('c1', 'abc', 'ddl_ops_log_c1', 'kunlun', 'mgr')");
  const r = await createSchema(c, { database: 'Kmeta_Adopt', metaHaMode: 'rbr' });
  t.equal(r.origin, 'meta_inuse');
  t.notOk(r.created.includes('db_clusters'), 'existing table kept');
  t.ok(r.created.includes('shard_nodes') && r.created.includes('cluster_mgr_projection'), 'missing tables added');
  t.match(r.notes.join('\n'), /meta_ha_mode is mgr; left as it is/);
  const [rows] = await c.query<RowDataPacket[]>('SELECT name FROM kmeta_adopt.db_clusters');
  t.strictSame(rows.map((x) => String(x.name)), ['c1']);
  t.equal(await schemaVersion(c, 'kmeta_adopt'), SCHEMA_VERSION);
  const again = await createSchema(c, { database: 'kmeta_adopt' });
  t.equal(again.origin, 'ours');
  t.strictSame(again.created, []);
});

t.test('per-cluster commit and DDL logs; a compute node partition; duplicate (comp_node_id, txn_id) fails', async (t) => {
  t.strictSame((await ensureClusterLogTables(c, CLUSTER)).sort(), [`commit_log_${CLUSTER}`, `ddl_ops_log_${CLUSTER}`]);
  t.strictSame(await ensureClusterLogTables(c, CLUSTER), [], 'idempotent');
  t.strictSame(await commitLogPartitions(c, CLUSTER), [], 'only the placeholder');
  t.equal(await ensureCommitLogPartition(c, CLUSTER, 5), true);
  t.equal(await ensureCommitLogPartition(c, CLUSTER, 5), false, 'idempotent');
  t.strictSame(await commitLogPartitions(c, CLUSTER), [5]);

  const table = `${DB}.commit_log_${CLUSTER}`;
  const txn = 2 ** 40 + 7;
  await c.query(`INSERT INTO ${table} (comp_node_id, txn_id, next_txn_cmd, written_shards) VALUES (?, ?, ?, ?)`, [5, txn, 'commit', '[1,2]']);
  // XA resolution claims a decision by inserting it; the unique key makes the second claim fail.
  await t.rejects(c.query(`INSERT INTO ${table} (comp_node_id, txn_id, next_txn_cmd) VALUES (?, ?, ?)`, [5, txn, 'abort']), {
    code: 'ER_DUP_ENTRY',
  });
  await t.rejects(c.query(`INSERT INTO ${table} (comp_node_id, txn_id, next_txn_cmd) VALUES (?, ?, ?)`, [6, txn, 'abort']), {
    code: 'ER_NO_PARTITION_FOR_GIVEN_VALUE',
  }, 'a compute node without its partition cannot log');
  t.equal(await ensureCommitLogPartition(c, CLUSTER, 6), true);
  await c.query(`INSERT INTO ${table} (comp_node_id, txn_id, next_txn_cmd) VALUES (?, ?, ?)`, [6, txn, 'abort']);
  const [rows] = await c.query<RowDataPacket[]>(`SELECT comp_node_id, next_txn_cmd FROM ${table} ORDER BY comp_node_id`);
  t.strictSame(rows.map((x) => ({ ...x })), [{ comp_node_id: 5, next_txn_cmd: 'commit' }, { comp_node_id: 6, next_txn_cmd: 'abort' }]);

  t.equal(await dropCommitLogPartition(c, CLUSTER, 5), true);
  t.equal(await dropCommitLogPartition(c, CLUSTER, 5), false);
  t.strictSame(await commitLogPartitions(c, CLUSTER), [6]);
  const [left] = await c.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${table}`);
  t.equal(Number(left[0]!.n), 1, "compute node 5's rows went with its partition");

  await t.rejects(ensureClusterLogTables(c, 'x`; DROP DATABASE kunlun_metadata_db; --'), IdentifierError);
  await t.rejects(ensureCommitLogPartition(c, CLUSTER, 0), IdentifierError);
  await t.rejects(ensureCommitLogPartition(c, CLUSTER, -3), IdentifierError);
});

t.test('append_ddl_log_entry: needs the DDL lock, refuses a table name that is not a DDL log', async (t) => {
  const args = (table: string): unknown[] => [table, 'postgres', 'public', 'r1', 'u1', 'public', 't1', 'table', 'create', 0, 'create table t1(a int)', 'create table t1(a int)', 1, 5, 777];
  const call = `CALL ${DB}.append_ddl_log_entry(${Array(15).fill('?').join(', ')}, @opid)`;
  await t.rejects(c.query(call, args(`ddl_ops_log_${CLUSTER}`)), /does not hold the DDL lock/);
  const [lock] = await c.query<RowDataPacket[]>("SELECT GET_LOCK('DDL', 5) AS l");
  t.equal(Number(lock[0]!.l), 1);
  await c.query(`USE ${DB}`);
  await c.query(call, args(`ddl_ops_log_${CLUSTER}`));
  const [id] = await c.query<RowDataPacket[]>('SELECT @opid AS id');
  t.equal(Number(id[0]!.id), 1);
  await c.query(call, args(`kunlun_metadata_db.ddl_ops_log_${CLUSTER}`));
  await t.rejects(c.query(call, args('ddl_ops_log_x (db_name) VALUES (1); DROP TABLE shards; --')), /invalid DDL log table name/);
  await t.rejects(c.query(call, args('shards')), /invalid DDL log table name/);
  await c.query("SELECT RELEASE_LOCK('DDL')");
  const [rows] = await c.query<RowDataPacket[]>(`SELECT id, objname, optype, objtype, txn_id, initiator FROM ${DB}.ddl_ops_log_${CLUSTER} ORDER BY id`);
  t.strictSame(rows.map((x) => ({ ...x })), [
    { id: 1, objname: 't1', optype: 'create', objtype: 'table', txn_id: 777, initiator: 5 },
    { id: 2, objname: 't1', optype: 'create', objtype: 'table', txn_id: 777, initiator: 5 },
  ]);
  const [shards] = await c.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [DB, 'shards']);
  t.equal(Number(shards[0]!.n), 1, 'shards is still there');
  await dropClusterLogTables(c, CLUSTER);
  const [gone] = await c.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE '%log_cluster%'", [DB]);
  t.equal(Number(gone[0]!.n), 0, 'both per-cluster tables dropped');
});
