// CHECKSUM TABLE of a server's tables, keyed "schema.table": what a backup's verify and the tests
// compare between a source and its copy.
import type { Connection, RowDataPacket } from 'mysql2/promise';

/** Schemas of the server itself. */
export const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys'] as const;

/** Base tables of `schema` (of every user schema when absent), ordered. */
export async function baseTables(c: Connection, schema?: string): Promise<{ schema: string; table: string }[]> {
  const [tables] = await c.query<RowDataPacket[]>(
    'SELECT table_schema AS s, table_name AS n FROM information_schema.tables ' +
      "WHERE table_type = 'BASE TABLE' AND (table_schema = ? OR (? IS NULL AND table_schema NOT IN (?))) ORDER BY 1, 2",
    [schema ?? null, schema ?? null, SYSTEM_SCHEMAS],
  );
  return tables.map((t) => ({ schema: String(t.s), table: String(t.n) }));
}

/** `schema`.`table`, quoted by the driver (the names come from information_schema). */
export function tableName(c: Connection, t: { schema: string; table: string }): string {
  return `${c.escapeId(t.schema)}.${c.escapeId(t.table)}`;
}

/** CHECKSUM TABLE of every base table of `schema` (of every user schema when absent), keyed "schema.table". */
export async function tableChecksums(c: Connection, schema?: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of await baseTables(c, schema)) {
    const [[r]] = await c.query<RowDataPacket[]>(`CHECKSUM TABLE ${tableName(c, t)}`);
    out[`${t.schema}.${t.table}`] = String(r!.Checksum);
  }
  return out;
}
