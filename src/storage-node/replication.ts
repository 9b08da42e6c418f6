// Replication control of MySQL-compatible storage nodes (MariaDB flavor): GTID positions, pointing a
// replica at a primary, making a node the semi-sync primary, and reading a node's replication state.
// Every statement takes its values as parameters; nothing is pasted into SQL text.
import type { Connection, RowDataPacket } from 'mysql2/promise';

export interface Endpoint {
  host: string;
  port: number;
}

export interface Credentials {
  user: string;
  password: string;
}

export interface ReplicaOptions {
  /** Primary heartbeat period, s: with slave_net_timeout it bounds how fast a replica sees a dead primary. */
  heartbeatSec?: number;
  connectRetrySec?: number;
}

/** Creates the replication account on a node without binlogging it (same account on every node). */
export async function ensureReplicationUser(c: Connection, repl: Credentials): Promise<void> {
  await c.query('SET SESSION sql_log_bin = 0');
  try {
    await c.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [repl.user, '%', repl.password]);
    await c.query('ALTER USER ?@? IDENTIFIED BY ?', [repl.user, '%', repl.password]);
    await c.query('GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO ?@?', [repl.user, '%']);
  } finally {
    await c.query('SET SESSION sql_log_bin = 1');
  }
}

/** Points a node at a primary with GTID auto-positioning and starts replicating. */
export async function pointReplicaAt(
  c: Connection,
  primary: Endpoint,
  repl: Credentials,
  opts: ReplicaOptions = {},
): Promise<void> {
  await c.query('STOP SLAVE');
  await c.query(
    'CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, ' +
      'MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = ?, MASTER_HEARTBEAT_PERIOD = ?',
    [primary.host, primary.port, repl.user, repl.password, opts.connectRetrySec ?? 1, opts.heartbeatSec ?? 1],
  );
  await c.query('SET GLOBAL read_only = ON');
  await c.query('SET GLOBAL rpl_semi_sync_master_enabled = OFF');
  await c.query('SET GLOBAL rpl_semi_sync_slave_enabled = ON');
  await c.query('START SLAVE');
}

/**
 * Before a node restored from a physical copy first replicates: it forgets any replication and binlog
 * state it came with (the source's, or the old data's) and starts from the copy's GTID position
 * (mariadb_backup_binlog_info), so MASTER_USE_GTID = slave_pos asks the primary for what followed the copy.
 */
export async function startFromCopyPosition(c: Connection, gtid: string): Promise<void> {
  await c.query('STOP SLAVE');
  await c.query('RESET SLAVE ALL');
  await c.query('RESET MASTER');
  await c.query('SET GLOBAL gtid_slave_pos = ?', [gtid]);
}

/** Makes a node the shard's primary: no replication of its own, semi-sync master, writable. */
export async function makePrimary(c: Connection): Promise<void> {
  await c.query('STOP SLAVE');
  await c.query('RESET SLAVE ALL');
  await c.query('SET GLOBAL rpl_semi_sync_slave_enabled = OFF');
  await c.query('SET GLOBAL rpl_semi_sync_master_enabled = ON');
  await c.query('SET GLOBAL read_only = OFF');
}

export interface ReplicaStatus {
  /** Yes, No or Connecting. */
  ioRunning: string;
  /** Yes or No. */
  sqlRunning: string;
  masterHost: string;
  masterPort: number;
  lastIoError: string;
  lastSqlError: string;
  secondsBehind: number | null;
  gtidIoPos: string;
}

/** SHOW SLAVE STATUS, or null when the node is not configured as a replica. */
export async function replicaStatus(c: Connection): Promise<ReplicaStatus | null> {
  const [rows] = await c.query<RowDataPacket[]>('SHOW SLAVE STATUS');
  const r = rows[0];
  if (!r) return null;
  return {
    ioRunning: String(r.Slave_IO_Running),
    sqlRunning: String(r.Slave_SQL_Running),
    masterHost: String(r.Master_Host),
    masterPort: Number(r.Master_Port),
    lastIoError: String(r.Last_IO_Error ?? ''),
    lastSqlError: String(r.Last_SQL_Error ?? ''),
    secondsBehind: r.Seconds_Behind_Master === null ? null : Number(r.Seconds_Behind_Master),
    gtidIoPos: String(r.Gtid_IO_Pos ?? ''),
  };
}

export async function globalVariable(c: Connection, name: string): Promise<string | null> {
  const [rows] = await c.query<RowDataPacket[]>('SHOW GLOBAL VARIABLES WHERE Variable_name = ?', [name]);
  return rows[0] ? String(rows[0].Value) : null;
}

export async function globalStatus(c: Connection, name: string): Promise<string | null> {
  const [rows] = await c.query<RowDataPacket[]>('SHOW GLOBAL STATUS WHERE Variable_name = ?', [name]);
  return rows[0] ? String(rows[0].Value) : null;
}

/** GTID positions: what the node executed (binlogged or applied) and what it applied as a replica. */
export async function gtidPositions(c: Connection): Promise<{ current: string; binlog: string; slave: string }> {
  const [rows] = await c.query<RowDataPacket[]>(
    'SELECT @@GLOBAL.gtid_current_pos AS current, @@GLOBAL.gtid_binlog_pos AS binlog, @@GLOBAL.gtid_slave_pos AS slave',
  );
  const r = rows[0]!;
  return { current: String(r.current), binlog: String(r.binlog), slave: String(r.slave) };
}
