// The tables a scale-out moves, as a storage node holds them: kunlun-server keeps a compute-side
// `db.schema.table` in storage database `db_$$_schema`, table `table`. Every name that must be SQL text
// is validated and backtick-quoted (src/metadata/ident.ts); values are `?` parameters.
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { COMPUTE_NAME_RE, qdb, qst } from '../metadata/ident.js';

/** A table of table_list: the compute-side names. */
export interface TableRef {
  db: string;
  schema: string;
  table: string;
}

/** How table_list writes a table: "db.schema.table". */
export const TABLE_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}\.[A-Za-z_][A-Za-z0-9_]{0,62}\.[A-Za-z_][A-Za-z0-9_]{0,46}$/;
export const TABLE_NAME_HELP = '"db.schema.table" (letters, digits and _, the table at most 47 characters)';

/** The separator of kunlun-server's storage database names. */
const SEP = '_$$_';

export function parseTableName(text: string): TableRef {
  if (!TABLE_NAME_RE.test(text)) throw new Error(`${JSON.stringify(text).slice(0, 80)} is not ${TABLE_NAME_HELP}`);
  const [db, schema, table] = text.split('.') as [string, string, string];
  if (storageDb({ db, schema }).length > 64) throw new Error(`${text}: storage database ${db}${SEP}${schema} is longer than 64 characters`);
  return { db, schema, table };
}

export const tableText = (r: TableRef): string => `${r.db}.${r.schema}.${r.table}`;
export const storageDb = (r: { db: string; schema: string }): string => `${r.db}${SEP}${r.schema}`;

/** The compute-side db and schema of a storage database, or null when it is not `db_$$_schema`. */
export function computeSchemaOf(storageDatabase: string): { db: string; schema: string } | null {
  const i = storageDatabase.indexOf(SEP);
  if (i <= 0) return null;
  const db = storageDatabase.slice(0, i);
  const schema = storageDatabase.slice(i + SEP.length);
  return COMPUTE_NAME_RE.test(db) && COMPUTE_NAME_RE.test(schema) ? { db, schema } : null;
}

/** What copying, capturing and checking a table needs to know of it. */
export interface TableShape {
  /** Storage database and table name. */
  db: string;
  table: string;
  /** Stored (not generated) columns, in order: the ones copied and checksummed. */
  columns: string[];
  pk: string[];
  /** A single integer primary key: chunks are ranges of it. */
  intPk: boolean;
}

const INT_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'bigint']);
/** Key types whose values travel through JSON and back unchanged. */
const KEY_TYPES = new Set([...INT_TYPES, 'char', 'varchar']);

/** The shape of db.table on this node, or null when there is no such base table. */
export async function describeTable(c: Connection, db: string, table: string): Promise<TableShape | null> {
  const [cols] = await c.query<RowDataPacket[]>(
    'SELECT column_name AS name, data_type AS type, extra FROM information_schema.columns WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position',
    [db, table],
  );
  if (cols.length === 0) return null;
  const [keys] = await c.query<RowDataPacket[]>(
    "SELECT column_name AS name FROM information_schema.statistics WHERE table_schema = ? AND table_name = ? AND index_name = 'PRIMARY' ORDER BY seq_in_index",
    [db, table],
  );
  const pk = keys.map((k) => String(k.name));
  const typeOf = new Map(cols.map((x) => [String(x.name), String(x.type).toLowerCase()]));
  if (pk.length === 0) throw new Error(`${db}.${table} has no primary key: a table is moved and checked by its primary key`);
  const odd = pk.filter((k) => !KEY_TYPES.has(typeOf.get(k) ?? ''));
  if (odd.length > 0) throw new Error(`${db}.${table}: primary key column ${odd.join(', ')} is of type ${odd.map((k) => typeOf.get(k)).join(', ')}; only integer and (var)char keys are moved`);
  return {
    db,
    table,
    columns: cols.filter((x) => !/GENERATED/i.test(String(x.extra))).map((x) => String(x.name)),
    pk,
    intPk: pk.length === 1 && INT_TYPES.has(typeOf.get(pk[0]!) ?? ''),
  };
}

/** Whether db.table exists on this node (as a base table or a view). */
export async function tableExists(c: Connection, db: string, table: string): Promise<boolean> {
  const [r] = await c.query<RowDataPacket[]>('SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?', [db, table]);
  return r.length > 0;
}

/** Creates db (if missing) and the table on `dst` with the definition it has on `src`, unless it exists. */
export async function copyDefinition(src: Connection, dst: Connection, db: string, table: string): Promise<void> {
  const [[row]] = await src.query<RowDataPacket[]>(`SHOW CREATE TABLE ${qst(db, table)}`);
  const ddl = String((row as Record<string, unknown>)['Create Table']);
  const [[dbRow]] = await src.query<RowDataPacket[]>(`SHOW CREATE DATABASE ${qdb(db)}`);
  // The server's own text: the database's character set and collation come along.
  await dst.query(String((dbRow as Record<string, unknown>)['Create Database']).replace(/^CREATE DATABASE /, 'CREATE DATABASE IF NOT EXISTS '));
  await dst.query(`USE ${qdb(db)}`);
  await dst.query(ddl.replace(/^CREATE TABLE /, 'CREATE TABLE IF NOT EXISTS '));
}

/** The largest base tables of every `db_$$_schema` database: `perDb` of each, as "db.schema.table". */
export async function largestTables(c: Connection, perDb: number): Promise<string[]> {
  const [rows] = await c.query<RowDataPacket[]>(
    "SELECT table_schema AS s, table_name AS n FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema LIKE ? " +
      'ORDER BY table_schema, data_length + index_length DESC, table_name',
    ['%\\_$$\\_%'],
  );
  return pickPerDb(rows.map((r) => ({ db: String(r.s), table: String(r.n) })), perDb);
}

/** The most recently updated base tables of the `db_$$_schema` databases, as "db.schema.table". */
export async function recentTables(c: Connection, count: number): Promise<string[]> {
  const [rows] = await c.query<RowDataPacket[]>(
    "SELECT table_schema AS s, table_name AS n FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema LIKE ? " +
      'ORDER BY update_time IS NULL, update_time DESC, table_schema, table_name',
    ['%\\_$$\\_%'],
  );
  return pickPerDb(rows.map((r) => ({ db: String(r.s), table: String(r.n) })), Infinity).slice(0, count);
}

function pickPerDb(rows: { db: string; table: string }[], perDb: number): string[] {
  const taken = new Map<string, number>();
  const out: string[] = [];
  for (const r of rows) {
    const cs = computeSchemaOf(r.db);
    const text = cs === null ? '' : tableText({ ...cs, table: r.table });
    if (!TABLE_NAME_RE.test(text) || (taken.get(r.db) ?? 0) >= perDb) continue;
    taken.set(r.db, (taken.get(r.db) ?? 0) + 1);
    out.push(text);
  }
  return out;
}
