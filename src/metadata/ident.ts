// Identifiers that have to be part of SQL text (database, table, partition names). Each one is checked
// against a strict pattern and quoted with backticks; everything else is a `?` parameter.

export const DEFAULT_DATABASE = 'kunlun_metadata_db';

/** Plain MySQL identifier: letters, digits, underscore, at most 64 characters, not only digits. */
const IDENT = /^(?![0-9]+$)[A-Za-z0-9_]{1,64}$/;

/** A cluster name that can be the suffix of commit_log_<name> and ddl_ops_log_<name> (≤ 64 chars). */
const CLUSTER_NAME = /^[A-Za-z0-9_]{1,52}$/;

export class IdentifierError extends Error {
  override name = 'IdentifierError';
}

export function assertIdent(name: string, what: string): string {
  if (typeof name !== 'string' || !IDENT.test(name)) {
    throw new IdentifierError(`${what} ${JSON.stringify(name)} is not a valid identifier (letters, digits, _; 1-64)`);
  }
  return name;
}

/** Backtick-quoted identifier, after validation. */
export function q(name: string, what = 'identifier'): string {
  return `\`${assertIdent(name, what)}\``;
}

/** `db`.`table`, both validated. */
export function qt(database: string, table: string): string {
  return `${q(database, 'database')}.${q(table, 'table')}`;
}

export function isValidClusterTableSuffix(name: string): boolean {
  return typeof name === 'string' && CLUSTER_NAME.test(name);
}

export function assertClusterTableSuffix(name: string): string {
  if (!isValidClusterTableSuffix(name)) {
    throw new IdentifierError(
      `cluster name ${JSON.stringify(name)} cannot name its commit/DDL log tables (letters, digits, _; at most 52)`,
    );
  }
  return name;
}

export function commitLogTable(clusterName: string): string {
  return `commit_log_${assertClusterTableSuffix(clusterName)}`;
}

export function ddlLogTable(clusterName: string): string {
  return `ddl_ops_log_${assertClusterTableSuffix(clusterName)}`;
}

/** Compute node ids are int unsigned and never 0 (0 would collide with nothing, but no node has it). */
export function assertCompNodeId(id: number): number {
  if (!Number.isSafeInteger(id) || id < 1 || id > 4_294_967_295) {
    throw new IdentifierError(`compute node id ${String(id)} is not an integer in 1..4294967295`);
  }
  return id;
}

export function partitionName(compNodeId: number): string {
  return `p${assertCompNodeId(compNodeId)}`;
}

/** A compute-side name (database, schema or table of `db.schema.table`): a plain lower-risk identifier. */
export const COMPUTE_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** A storage database that holds a compute schema: `<db>_$$_<schema>` (kunlun-server's naming), ≤ 64. */
const STORAGE_DB = /^[A-Za-z0-9_$]{1,64}$/;

/** Backtick-quoted storage database name (letters, digits, _ and $), after validation. */
export function qdb(name: string): string {
  if (typeof name !== 'string' || !STORAGE_DB.test(name)) {
    throw new IdentifierError(`storage database ${JSON.stringify(name)} is not a valid name (letters, digits, _, $; 1-64)`);
  }
  return `\`${name}\``;
}

/** `db`.`table` on a storage node: the database may hold "$" (`<db>_$$_<schema>`). */
export function qst(database: string, table: string): string {
  return `${qdb(database)}.${q(table, 'table')}`;
}
