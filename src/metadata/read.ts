// Reads the whole topology from an existing kunlun_metadata_db: the adoption input for a metadata shard
// made by other tools (the original cluster_mgr, its install scripts, node_mgr), and the way to check
// what a projection wrote. It tolerates the original's quirks and says what it normalised (quirks) and
// what it could not understand (warnings) instead of failing silently or dropping rows unannounced.
import type { RowDataPacket } from 'mysql2/promise';
import { ENTITY_MAPS, cellText, parsePorts, parseTimestamp, type Codec, type EntityMap, type FieldMap } from './codec.js';
import { DEFAULT_DATABASE, assertIdent, isValidClusterTableSuffix, q, qt } from './ident.js';
import { tableSpec } from './schema-spec.js';
import { selectRows, withSession, type Conn } from './session.js';
import {
  HA_MODES,
  PSEUDO_SERVER_HOST,
  PSEUDO_SERVER_ID,
  emptyTopology,
  type EntityKind,
  type HaMode,
  type Topology,
} from './topology.js';

export interface ReadOptions {
  database?: string;
  /** Which job rows to read: all (default), only not_started/ongoing ones, or none. */
  jobs?: 'all' | 'unfinished' | 'none';
}

export interface ReadResult {
  topology: Topology;
  /** Known oddities of rows written by the original tools, recognised and normalised. */
  quirks: string[];
  /** What could not be understood, and what was done about it (a default used, a row left out). */
  warnings: string[];
  /**
   * The first id free in each table, above every row and the AUTO_INCREMENT counter (history rows such
   * as old jobs included; compute ids also above comp_nodes_id_seq): where an adopting manager starts.
   */
  nextIds: Record<EntityKind, number>;
  /** What cluster_mgr_projection records: null when the table is missing, index 0 when never projected. */
  projection: { index: number; term: number } | null;
}

/** The column's DEFAULT from the schema, used when a row holds something we cannot read. */
function columnDefault(table: string, fm: FieldMap): unknown {
  const colType = tableSpec(table).columns.find((c) => c.name === fm.column)?.type ?? '';
  const s = /DEFAULT '([^']*)'/.exec(colType);
  const n = /DEFAULT (-?\d+)\b/.exec(colType);
  const c = fm.codec;
  if (c.kind === 'ports') return [];
  if ('nullable' in c && c.nullable) return null;
  if (c.kind === 'enum') return s && c.values.includes(s[1]!) ? s[1] : c.values[0];
  if (c.kind === 'int') return n ? Number(n[1]) : Math.max(0, c.min);
  if (c.kind === 'ts') return 1000;
  return s ? s[1] : '';
}

function decode(c: Codec, raw: unknown): { ok: true; value: unknown } | { ok: false; why: string } {
  const text = cellText(raw);
  if (c.kind === 'ports') return { ok: true, value: parsePorts(text).ports };
  if (text === null) return c.nullable ? { ok: true, value: null } : { ok: false, why: 'is NULL' };
  switch (c.kind) {
    case 'int': {
      const v = Number(text);
      return Number.isSafeInteger(v) ? { ok: true, value: v } : { ok: false, why: `is ${text}, not an integer` };
    }
    case 'str':
      return { ok: true, value: text };
    case 'enum':
      return c.values.includes(text) ? { ok: true, value: text } : { ok: false, why: `is ${JSON.stringify(text)}, not one of ${c.values.join(', ')}` };
    case 'ts': {
      const ms = parseTimestamp(text);
      if (ms !== null) return { ok: true, value: ms };
      return c.nullable ? { ok: true, value: null } : { ok: false, why: `is ${text}, not a time` };
    }
  }
}

type Row = Record<string, unknown> & { id: number };

export async function readTopology(c: Conn, opts: ReadOptions = {}): Promise<ReadResult> {
  const db = assertIdent(opts.database ?? DEFAULT_DATABASE, 'database').toLowerCase();
  const quirks: string[] = [];
  const warnings: string[] = [];
  const topology = emptyTopology();

  return withSession(c, { utc: true }, async () => {
    // One snapshot for every table: a topology read while others write is still consistent.
    await c.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
    try {
      const columns = await columnsByTable(c, db);
      const rowsOf = new Map<string, Row[]>();
      for (const m of ENTITY_MAPS) {
        if (m.kind === 'jobs' && opts.jobs === 'none') continue;
        const have = columns.get(m.table);
        if (!have) {
          warnings.push(`table ${m.table} does not exist; no ${m.kind} read`);
          continue;
        }
        const where = m.kind === 'jobs' && opts.jobs === 'unfinished' ? ' WHERE status IN (?, ?)' : '';
        const params = where ? ['not_started', 'ongoing'] : [];
        rowsOf.set(m.kind, await readEntity(c, db, m, have, where, params, warnings));
      }
      topology.metaHaMode = await readMetaHaMode(c, db, columns, warnings);
      const nextIds = await readNextIds(c, db, columns);
      const projection = await readProjection(c, db, columns);
      await c.query('COMMIT');
      assemble(topology, rowsOf, quirks, warnings);
      return { topology, quirks, warnings, nextIds, projection };
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  });
}

async function columnsByTable(c: Conn, db: string): Promise<Map<string, Set<string>>> {
  const [rows] = await c.query<RowDataPacket[]>(
    'SELECT LOWER(TABLE_NAME) AS t, COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ?',
    [db],
  );
  const out = new Map<string, Set<string>>();
  for (const r of rows) {
    const s = out.get(String(r.t)) ?? new Set<string>();
    s.add(String(r.c).toLowerCase());
    out.set(String(r.t), s);
  }
  return out;
}

async function readEntity(
  c: Conn,
  db: string,
  m: EntityMap,
  have: Set<string>,
  where: string,
  params: unknown[],
  warnings: string[],
): Promise<Row[]> {
  const present = m.fields.filter((f) => have.has(f.column.toLowerCase()));
  for (const f of m.fields) {
    if (!present.includes(f)) warnings.push(`${m.table}.${f.column} does not exist; ${m.kind} get ${JSON.stringify(columnDefault(m.table, f))} for ${f.field}`);
  }
  // Aliased, so result keys are our spelling whatever case the table defines the column in.
  const list = present.map((f) => `${q(f.column, 'column')} AS ${q(f.column, 'column')}`).join(', ');
  const rows = await selectRows(c, `SELECT ${list} FROM ${qt(db, m.table)}${where} ORDER BY ${q('id')}`, params);
  return rows.map((r) => {
    const out: Record<string, unknown> = {};
    for (const f of m.fields) {
      if (!present.includes(f)) {
        out[f.field] = columnDefault(m.table, f);
        continue;
      }
      const raw: unknown = r[f.column];
      const d = decode(f.codec, raw);
      if (d.ok) {
        out[f.field] = d.value;
      } else {
        out[f.field] = columnDefault(m.table, f);
        warnings.push(`${m.table} id ${String(r.id)}: ${f.column} ${d.why}; read as ${JSON.stringify(out[f.field])}`);
      }
      const rawText = cellText(raw);
      if (f.codec.kind === 'ports' && rawText !== null) {
        const p = parsePorts(rawText);
        if (p.bad.length) warnings.push(`${m.table} id ${String(r.id)}: ${f.column} has entries that are not ports (${p.bad.join(', ')}); left out`);
        if (p.literalNull) out.__literalNull = true;
      }
    }
    return out as Row;
  });
}

async function readNextIds(c: Conn, db: string, columns: Map<string, Set<string>>): Promise<Record<EntityKind, number>> {
  const [auto] = await c.query<RowDataPacket[]>(
    'SELECT LOWER(TABLE_NAME) AS t, AUTO_INCREMENT AS a FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?',
    [db],
  );
  const autoOf = new Map(auto.map((r) => [String(r.t), r.a === null ? 0 : Number(r.a)]));
  const next = async (table: string): Promise<number> => {
    if (!columns.get(table)?.has('id')) return 1;
    const [rows] = await c.query<RowDataPacket[]>(`SELECT COALESCE(MAX(${q('id')}), 0) AS m FROM ${qt(db, table)}`);
    return Math.max(Number(rows[0]!.m) + 1, autoOf.get(table) ?? 0, 1);
  };
  const out = {} as Record<EntityKind, number>;
  for (const m of ENTITY_MAPS) out[m.kind] = await next(m.table);
  out.computeNodes = Math.max(out.computeNodes, await next('comp_nodes_id_seq'));
  return out;
}

async function readProjection(c: Conn, db: string, columns: Map<string, Set<string>>): Promise<ReadResult['projection']> {
  if (!columns.has('cluster_mgr_projection')) return null;
  const [rows] = await c.query<RowDataPacket[]>(`SELECT applied_index, term FROM ${qt(db, 'cluster_mgr_projection')} WHERE id = ?`, [1]);
  return rows[0] ? { index: Number(rows[0].applied_index), term: Number(rows[0].term) } : { index: 0, term: 0 };
}

async function readMetaHaMode(c: Conn, db: string, columns: Map<string, Set<string>>, warnings: string[]): Promise<HaMode | null> {
  if (!columns.has('global_configuration')) return null;
  const [rows] = await c.query<RowDataPacket[]>(`SELECT name, value FROM ${qt(db, 'global_configuration')} ORDER BY name`);
  const first = rows[0];
  if (first && String(first.name) !== 'meta_ha_mode') {
    warnings.push(`global_configuration's first row is ${String(first.name)}, not meta_ha_mode; XPanel reads the first row as the meta HA mode`);
  }
  const row = rows.find((r) => String(r.name) === 'meta_ha_mode');
  if (!row) return null;
  const v = row.value === null ? null : String(row.value);
  if (v !== null && (HA_MODES as readonly string[]).includes(v)) return v as HaMode;
  warnings.push(`global_configuration meta_ha_mode is ${JSON.stringify(v)}, not one of ${HA_MODES.join(', ')}; read as null`);
  return null;
}

/** Puts the rows together: drops what cannot be part of a consistent topology, saying so. */
function assemble(t: Topology, rowsOf: Map<string, Row[]>, quirks: string[], warnings: string[]): void {
  const get = <T>(k: string): T[] => (rowsOf.get(k) ?? []) as unknown as T[];
  const literalNulls: number[] = [];
  for (const r of get<Row>('machines')) {
    const literal = r.__literalNull === true;
    delete r.__literalNull;
    if (r.hostaddr === PSEUDO_SERVER_HOST || r.id === PSEUDO_SERVER_ID) {
      if (r.hostaddr !== PSEUDO_SERVER_HOST) warnings.push(`server_nodes id ${PSEUDO_SERVER_ID} is ${String(r.hostaddr)}, where the pseudo server row belongs; left out`);
      else if (r.id !== PSEUDO_SERVER_ID) warnings.push(`the pseudo server row has id ${r.id}, not ${PSEUDO_SERVER_ID}; left out`);
      continue;
    }
    if (literal) literalNulls.push(r.id);
    if (r.machineType === null) {
      quirks.push(`server_nodes id ${r.id} (${String(r.hostaddr)}) has no machine_type: registered by node_mgr, not a placement host`);
    }
    t.machines.push(r as unknown as Topology['machines'][number]);
  }
  if (literalNulls.length) quirks.push(`server_nodes ids ${literalNulls.join(', ')} store an empty port list as the string 'NULL'`);

  const machineIds = new Set([PSEUDO_SERVER_ID, ...t.machines.map((m) => m.id)]);
  const machineRef = (table: string, id: number, machineId: number): number => {
    if (machineIds.has(machineId)) return machineId;
    warnings.push(`${table} id ${id}: svr_node_id ${machineId} is not a machine; read as ${PSEUDO_SERVER_ID} (the pseudo server)`);
    return PSEUDO_SERVER_ID;
  };

  for (const cl of get<Topology['clusters'][number]>('clusters')) {
    if (cl.memo === null || cl.memo.trim() === '') {
      quirks.push(`cluster ${cl.id} (${cl.name}) has no memo: made outside cluster_mgr; XPanel lists it as abnormal`);
    } else {
      try {
        JSON.parse(cl.memo);
      } catch {
        quirks.push(`cluster ${cl.id} (${cl.name}) has a memo that is not JSON; kept verbatim`);
      }
    }
    if (!isValidClusterTableSuffix(cl.name)) {
      warnings.push(`cluster ${cl.id}: name ${JSON.stringify(cl.name)} cannot name commit_log_/ddl_ops_log_ tables; its logs are not managed`);
    }
    t.clusters.push(cl);
  }
  const clusters = new Map(t.clusters.map((c) => [c.id, c]));

  for (const s of get<Topology['shards'][number]>('shards')) {
    if (!clusters.has(s.clusterId)) {
      warnings.push(`shard ${s.id} (${s.name}) belongs to cluster ${s.clusterId}, which does not exist; left out`);
      continue;
    }
    t.shards.push(s);
  }
  const shards = new Map(t.shards.map((s) => [s.id, s]));

  for (const n of get<Topology['storageNodes'][number]>('storageNodes')) {
    const s = shards.get(n.shardId);
    if (!s) {
      warnings.push(`shard_nodes id ${n.id} (${n.hostaddr}:${n.port}) belongs to shard ${n.shardId}, which is not read; left out`);
      continue;
    }
    if (s.clusterId !== n.clusterId) {
      warnings.push(`shard_nodes id ${n.id}: db_cluster_id ${n.clusterId} is not its shard's cluster ${s.clusterId}; read as ${s.clusterId}`);
      n.clusterId = s.clusterId;
    }
    n.machineId = machineRef('shard_nodes', n.id, n.machineId);
    t.storageNodes.push(n);
  }
  for (const s of t.shards) {
    const mode = clusters.get(s.clusterId)!.haMode;
    const sources = t.storageNodes.filter((n) => n.shardId === s.id && n.memberState === 'source');
    if (sources.length === 0) {
      if (mode === 'rbr') warnings.push(`shard ${s.id} (${s.name}, rbr) has no 'source' row: its primary is unknown until probed`);
      else quirks.push(`shard ${s.id} (${s.name}, ${mode}) has no 'source' row, as 1.0 writes ${mode} shards; its primary is found by probing`);
    } else if (sources.length > 1) {
      warnings.push(`shard ${s.id} (${s.name}) has ${sources.length} 'source' rows (ids ${sources.map((n) => n.id).join(', ')})`);
    }
  }

  const compIds = new Set<number>();
  for (const n of get<Topology['computeNodes'][number]>('computeNodes')) {
    if (!clusters.has(n.clusterId)) {
      warnings.push(`comp_nodes id ${n.id} (${n.name}) belongs to cluster ${n.clusterId}, which does not exist; left out`);
      continue;
    }
    if (compIds.has(n.id)) {
      warnings.push(`comp_nodes id ${n.id} appears in more than one cluster; only the first (cluster ${t.computeNodes.find((x) => x.id === n.id)!.clusterId}) is read`);
      continue;
    }
    compIds.add(n.id);
    n.machineId = machineRef('comp_nodes', n.id, n.machineId);
    t.computeNodes.push(n);
  }

  t.managers.push(...get<Topology['managers'][number]>('managers'));
  const leaders = t.managers.filter((m) => m.memberState === 'source');
  if (leaders.length > 1) warnings.push(`cluster_mgr_nodes has ${leaders.length} rows in state source (ids ${leaders.map((m) => m.id).join(', ')})`);
  t.metaNodes.push(...get<Topology['metaNodes'][number]>('metaNodes'));
  t.replicaMasters.push(...get<Topology['replicaMasters'][number]>('replicaMasters'));
  t.jobs.push(...get<Topology['jobs'][number]>('jobs'));
  t.backupStorages.push(...get<Topology['backupStorages'][number]>('backupStorages'));
}
