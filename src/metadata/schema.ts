// Creates kunlun_metadata_db on a fresh metadata shard, or checks and completes one that exists: ours
// (by its recorded version) or one made by the original's meta_inuse.sql (adopted when every column
// we read or write is there with compatible enums). Idempotent: a second run changes nothing.
import type { RowDataPacket } from 'mysql2/promise';
import { ENTITY_MAPS } from './codec.js';
import { DEFAULT_DATABASE, assertIdent, q, qt } from './ident.js';
import { SCHEMA_VERSION, TABLES, renderCreateTable } from './schema-spec.js';
import { withSession, type Conn } from './session.js';
import { FAILOVER_COLUMNS } from './append.js';
import { HA_MODES, PSEUDO_SERVER_HOST, PSEUDO_SERVER_ID, type HaMode } from './topology.js';

export class SchemaError extends Error {
  override name = 'SchemaError';
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super(problems.length ? `${message}: ${problems.join('; ')}` : message);
  }
}

export interface SchemaOptions {
  /** Default kunlun_metadata_db (what compute nodes, node_mgr and XPanel use). */
  database?: string;
  /** global_configuration meta_ha_mode, written only when the row does not exist yet. */
  metaHaMode?: HaMode;
}

export interface SchemaResult {
  database: string;
  version: number;
  /** Tables (and the procedure) created by this call, in creation order. */
  created: string[];
  /** 'fresh' (made here), 'ours' (recorded version found) or 'meta_inuse' (the original's schema, adopted). */
  origin: 'fresh' | 'ours' | 'meta_inuse';
  /** Things found that do not stop us but an operator may want to know. */
  notes: string[];
}

/** Columns the manager reads or writes: they must exist (with compatible enums and NULL-ability). */
function requiredColumns(): Map<string, Set<string>> {
  const req = new Map<string, Set<string>>();
  const add = (table: string, cols: Iterable<string>): void => {
    const s = req.get(table) ?? new Set<string>();
    for (const c of cols) s.add(c);
    req.set(table, s);
  };
  for (const m of ENTITY_MAPS) add(m.table, m.fields.map((f) => f.column));
  add('global_configuration', ['name', 'value']);
  add('rbr_consfailover', FAILOVER_COLUMNS);
  add('commit_log_template_table', ['comp_node_id', 'txn_id', 'next_txn_cmd', 'prepare_ts']);
  add('ddl_ops_log_template_table', ['id', 'db_name', 'objname', 'optype', 'objtype', 'sql_src', 'sql_storage_node']);
  add('comp_nodes_id_seq', ['id']);
  add('server_nodes_stats', ['id']);
  for (const t of TABLES) if (t.origin === 'ours') add(t.name, t.columns.map((c) => c.name));
  return req;
}

/** Columns the projection may write NULL into. */
function nullableWrites(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const m of ENTITY_MAPS) {
    const s = new Set<string>();
    for (const f of m.fields) if ('nullable' in f.codec && f.codec.nullable) s.add(f.column);
    out.set(m.table, s);
  }
  return out;
}

function parseEnum(columnType: string): string[] | null {
  const m = /^enum\((.*)\)$/i.exec(columnType.trim());
  if (!m) return null;
  return [...m[1]!.matchAll(/'((?:[^']|'')*)'/g)].map((x) => x[1]!.replace(/''/g, "'"));
}

interface ExistingColumn {
  type: string;
  nullable: boolean;
}

async function existingColumns(c: Conn, db: string): Promise<Map<string, Map<string, ExistingColumn>>> {
  const [rows] = await c.query<RowDataPacket[]>(
    'SELECT LOWER(TABLE_NAME) AS t, COLUMN_NAME AS c, COLUMN_TYPE AS ty, IS_NULLABLE AS n ' +
      'FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ?',
    [db],
  );
  const out = new Map<string, Map<string, ExistingColumn>>();
  for (const r of rows) {
    const t = String(r.t);
    const m = out.get(t) ?? new Map<string, ExistingColumn>();
    m.set(String(r.c).toLowerCase(), { type: String(r.ty), nullable: String(r.n) === 'YES' });
    out.set(t, m);
  }
  return out;
}

/** What stops us from using the tables as they are (empty when they fit), and what merely differs. */
function compare(existing: Map<string, Map<string, ExistingColumn>>): { problems: string[]; notes: string[] } {
  const problems: string[] = [];
  const notes: string[] = [];
  const required = requiredColumns();
  const nullable = nullableWrites();
  for (const spec of TABLES) {
    const have = existing.get(spec.name);
    if (!have) continue;
    const req = required.get(spec.name) ?? new Set<string>();
    for (const colSpec of spec.columns) {
      const ex = have.get(colSpec.name.toLowerCase());
      const needed = req.has(colSpec.name);
      if (!ex) {
        if (needed) problems.push(`${spec.name}.${colSpec.name} is missing`);
        else notes.push(`${spec.name}.${colSpec.name} is missing (not used by this manager)`);
        continue;
      }
      if (!needed) continue;
      if (colSpec.enumValues) {
        const values = parseEnum(ex.type);
        if (!values) {
          problems.push(`${spec.name}.${colSpec.name} is ${ex.type}, not an enum`);
          continue;
        }
        const missing = colSpec.enumValues.filter((v) => !values.includes(v));
        if (missing.length) problems.push(`${spec.name}.${colSpec.name} lacks enum values ${missing.join(', ')}`);
        const order = colSpec.enumValues.filter((v) => values.includes(v)).map((v) => values.indexOf(v));
        if (order.some((x, i) => i > 0 && x < order[i - 1]!)) {
          problems.push(`${spec.name}.${colSpec.name} has its enum values in another order (${ex.type})`);
        }
      }
      if (nullable.get(spec.name)?.has(colSpec.name) && !ex.nullable) {
        problems.push(`${spec.name}.${colSpec.name} is NOT NULL but the manager writes NULL into it`);
      }
    }
  }
  return { problems, notes };
}

export async function createSchema(c: Conn, opts: SchemaOptions = {}): Promise<SchemaResult> {
  const db = assertIdent(opts.database ?? DEFAULT_DATABASE, 'database').toLowerCase();
  if (opts.metaHaMode !== undefined && !HA_MODES.includes(opts.metaHaMode)) {
    throw new SchemaError(`metaHaMode must be one of ${HA_MODES.join(', ')}`);
  }
  const [lc] = await c.query<RowDataPacket[]>('SELECT @@GLOBAL.lower_case_table_names AS l');
  const lctn = Number(lc[0]?.l);
  if (lctn !== 1) {
    throw new SchemaError(
      `the metadata shard runs with lower_case_table_names=${lctn}; it must be 1 ` +
        '(the schema names Kunlun_Metadata_DB while compute nodes and node_mgr use kunlun_metadata_db)',
    );
  }

  const before = await existingColumns(c, db);
  const notes: string[] = [];
  let origin: SchemaResult['origin'];
  if (before.has('cluster_mgr_schema')) {
    const [rows] = await c.query<RowDataPacket[]>(`SELECT version FROM ${qt(db, 'cluster_mgr_schema')} WHERE id = ?`, [1]);
    if (rows.length === 0) throw new SchemaError(`${db}.cluster_mgr_schema exists but records no version; refusing to guess`);
    const v = Number(rows[0]!.version);
    if (v > SCHEMA_VERSION) {
      throw new SchemaError(`${db} has schema version ${v}, newer than this cluster_mgr knows (${SCHEMA_VERSION}); upgrade cluster_mgr`);
    }
    if (v < SCHEMA_VERSION) throw new SchemaError(`${db} has schema version ${v} and there is no migration to ${SCHEMA_VERSION}`);
    origin = 'ours';
  } else {
    origin = before.size === 0 ? 'fresh' : 'meta_inuse';
  }
  const cmp = compare(before);
  if (cmp.problems.length > 0) {
    const what = origin === 'ours' ? `${db} (schema version ${SCHEMA_VERSION}) does not match` : `${db} exists but is of an unknown version`;
    throw new SchemaError(what, cmp.problems);
  }
  notes.push(...cmp.notes);

  const created: string[] = [];
  await c.query(`CREATE DATABASE IF NOT EXISTS ${q(db, 'database')}`);
  await withSession(c, { foreignKeyChecks: false }, async () => {
    for (const t of TABLES) {
      if (before.has(t.name)) continue;
      await c.query(renderCreateTable(db, t));
      created.push(t.name);
    }
  });
  // Our own DDL goes through the same check (a table created by someone else in between, say).
  const after = compare(await existingColumns(c, db));
  if (after.problems.length > 0) throw new SchemaError(`${db} does not match after creation`, after.problems);

  await ensurePseudoServer(c, db, notes);
  if (await ensureDdlLogProcedure(c, db)) created.push('append_ddl_log_entry()');
  await c.query(`INSERT IGNORE INTO ${qt(db, 'cluster_mgr_projection')} (id, applied_index, term) VALUES (?, ?, ?)`, [1, 0, 0]);
  if (opts.metaHaMode) {
    const [rows] = await c.query<RowDataPacket[]>(`SELECT value FROM ${qt(db, 'global_configuration')} WHERE name = ?`, ['meta_ha_mode']);
    if (rows.length === 0) {
      await c.query(`INSERT INTO ${qt(db, 'global_configuration')} (name, value) VALUES (?, ?)`, ['meta_ha_mode', opts.metaHaMode]);
    } else if (String(rows[0]!.value) !== opts.metaHaMode) {
      notes.push(`global_configuration meta_ha_mode is ${String(rows[0]!.value)}; left as it is (asked for ${opts.metaHaMode})`);
    }
  }
  if (origin !== 'ours') {
    await c.query(`INSERT IGNORE INTO ${qt(db, 'cluster_mgr_schema')} (id, version, adopted_from) VALUES (?, ?, ?)`, [
      1,
      SCHEMA_VERSION,
      origin,
    ]);
  }
  return { database: db, version: SCHEMA_VERSION, created, origin, notes };
}

/** The schema version recorded in a database, or null when none is recorded. */
export async function schemaVersion(c: Conn, database = DEFAULT_DATABASE): Promise<number | null> {
  const db = assertIdent(database, 'database').toLowerCase();
  const [t] = await c.query<RowDataPacket[]>(
    'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [db, 'cluster_mgr_schema'],
  );
  if (t.length === 0) return null;
  const [rows] = await c.query<RowDataPacket[]>(`SELECT version FROM ${qt(db, 'cluster_mgr_schema')} WHERE id = ?`, [1]);
  return rows.length ? Number(rows[0]!.version) : null;
}

/** The row cluster_mgr 1.0 points every storage node at (svr_node_id=1) when no machine is registered. */
async function ensurePseudoServer(c: Conn, db: string, notes: string[]): Promise<void> {
  const [rows] = await c.query<RowDataPacket[]>(`SELECT id, hostaddr FROM ${qt(db, 'server_nodes')} WHERE id = ? OR hostaddr = ?`, [
    PSEUDO_SERVER_ID,
    PSEUDO_SERVER_HOST,
  ]);
  const one = rows.find((r) => Number(r.id) === PSEUDO_SERVER_ID);
  if (!one) {
    if (rows.length > 0) notes.push(`the pseudo server row has id ${String(rows[0]!.id)}, not ${PSEUDO_SERVER_ID}`);
    await c.query(`INSERT INTO ${qt(db, 'server_nodes')} (id, hostaddr, total_mem, total_cpu_cores) VALUES (?, ?, ?, ?)`, [
      PSEUDO_SERVER_ID,
      PSEUDO_SERVER_HOST,
      16 * 1024,
      8,
    ]);
  } else if (String(one.hostaddr) !== PSEUDO_SERVER_HOST) {
    notes.push(`server_nodes id ${PSEUDO_SERVER_ID} is ${String(one.hostaddr)}, not the pseudo server row`);
  }
}

/**
 * append_ddl_log_entry(): the original's procedure for compute nodes appending to a DDL log while
 * holding the 'DDL' user lock. Same parameters; unlike the original it checks the table name against a
 * strict pattern before it becomes part of the prepared statement's text.
 */
async function ensureDdlLogProcedure(c: Conn, db: string): Promise<boolean> {
  const [rows] = await c.query<RowDataPacket[]>(
    'SELECT 1 FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_NAME = ? AND ROUTINE_TYPE = ?',
    [db, 'append_ddl_log_entry', 'PROCEDURE'],
  );
  if (rows.length > 0) return false;
  // No parameters are passed with this statement, so the driver leaves the '?' in its body alone.
  await c.query(`CREATE PROCEDURE ${qt(db, 'append_ddl_log_entry')}(
  tblname varchar(256), dbname varchar(64), schema_name varchar(64), role_name varchar(64), user_name varchar(64),
  search_path text, objname varchar(64), obj_type varchar(16), op_type varchar(16), cur_opid bigint unsigned,
  sql_src text, sql_src_sn text, target_shardid int unsigned, initiator_id int unsigned, txn_id bigint unsigned,
  OUT my_opid bigint unsigned)
  MODIFIES SQL DATA
  SQL SECURITY INVOKER
BEGIN
  IF COALESCE(IS_USED_LOCK('DDL'), 0) <> CONNECTION_ID() THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'append_ddl_log_entry: this session does not hold the DDL lock';
  END IF;
  IF tblname IS NULL OR tblname NOT REGEXP '^([A-Za-z0-9_]+[.])?ddl_ops_log_[A-Za-z0-9_]+$' THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'append_ddl_log_entry: invalid DDL log table name';
  END IF;
  SET @kl_dbname = dbname, @kl_schema_name = schema_name, @kl_role_name = role_name, @kl_user_name = user_name,
      @kl_search_path = search_path, @kl_objname = objname, @kl_obj_type = obj_type, @kl_op_type = op_type,
      @kl_sql_src = sql_src, @kl_sql_src_sn = sql_src_sn, @kl_target_shardid = target_shardid,
      @kl_initiator_id = initiator_id, @kl_txn_id = txn_id;
  SET @kl_ddl_sql = CONCAT('INSERT INTO ', tblname,
    ' (db_name, schema_name, role_name, user_name, search_path, objname, objtype, optype, sql_src, sql_storage_node, target_shard_id, initiator, txn_id)',
    ' VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  PREPARE kl_ddl_stmt FROM @kl_ddl_sql;
  EXECUTE kl_ddl_stmt USING @kl_dbname, @kl_schema_name, @kl_role_name, @kl_user_name, @kl_search_path, @kl_objname,
    @kl_obj_type, @kl_op_type, @kl_sql_src, @kl_sql_src_sn, @kl_target_shardid, @kl_initiator_id, @kl_txn_id;
  SET my_opid = LAST_INSERT_ID();
  DEALLOCATE PREPARE kl_ddl_stmt;
END`);
  return true;
}
