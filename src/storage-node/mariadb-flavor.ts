// MariaDB 10.11 flavor: GTID positions are per-domain lists (gtid_binlog_pos, gtid_slave_pos,
// Gtid_IO_Pos), replication uses the default (unnamed) connection with MASTER_USE_GTID=slave_pos,
// and semi-sync is built into the server.
import type { Flavor, Row, Session } from './flavor.js';
import { formatList, mariadbGtid, parsePosition, positionUnion } from './gtid.js';
import type { IoThreadState, NodeState, ReplicationState } from './node-state.js';

export function str(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

export function num(v: unknown): number {
  const n = Number(str(v));
  return Number.isFinite(n) ? n : 0;
}

export function bool(v: unknown): boolean {
  const s = str(v).toUpperCase();
  return s === '1' || s === 'ON' || s === 'YES' || s === 'TRUE';
}

const STATUS_VARS = [
  'Rpl_semi_sync_master_status',
  'Rpl_semi_sync_master_clients',
  'Rpl_semi_sync_master_wait_sessions',
  'Rpl_semi_sync_slave_status',
  'Threads_connected',
] as const;

function ioState(v: unknown): IoThreadState {
  const s = str(v);
  if (s === 'Yes') return 'running';
  if (s === 'Connecting' || s === 'Preparing') return 'connecting';
  return 'stopped';
}

function replicationFrom(r: Row): ReplicationState {
  const sbm = r.Seconds_Behind_Master;
  return {
    source: `${str(r.Master_Host)}:${num(r.Master_Port)}`,
    sourceServerId: num(r.Master_Server_Id) || null,
    io: ioState(r.Slave_IO_Running),
    sqlRunning: str(r.Slave_SQL_Running) === 'Yes',
    ioErrno: num(r.Last_IO_Errno),
    ioError: str(r.Last_IO_Error),
    sqlErrno: num(r.Last_SQL_Errno),
    sqlError: str(r.Last_SQL_Error),
    secondsBehind: sbm === null || sbm === undefined ? null : num(sbm),
    heartbeatPeriodSec: num(r.Slave_heartbeat_period),
    heartbeats: num(r.Slave_received_heartbeats),
    readPosition: `${str(r.Master_Log_File)}:${num(r.Read_Master_Log_Pos)}`,
    received: str(r.Gtid_IO_Pos),
    progressAgeMs: null,
  };
}

/** The MariaDB executed position: binlog (with log_slave_updates it holds applied ones too) ∪ slave_pos. */
export function mariadbExecuted(binlogPos: string, slavePos: string): string {
  return formatList(positionUnion(parsePosition(binlogPos), parsePosition(slavePos)));
}

export const mariadbFlavor: Flavor = {
  name: 'mariadb',
  gtid: mariadbGtid,

  async readState(sql) {
    const [v] = await sql.query(
      'SELECT @@server_id AS server_id, @@version AS version, @@read_only AS read_only, ' +
        '@@gtid_strict_mode AS strict_mode, @@log_slave_updates AS log_slave_updates, ' +
        '@@gtid_binlog_pos AS binlog_pos, @@gtid_slave_pos AS slave_pos, @@gtid_binlog_state AS binlog_state, ' +
        '@@rpl_semi_sync_master_enabled AS ss_master, @@rpl_semi_sync_slave_enabled AS ss_slave',
    );
    if (!v) throw new Error('MariaDB returned no row for the state query');
    const slaves = await sql.query('SHOW ALL SLAVES STATUS');
    // The default connection is the one cluster_mgr manages; named multi-source connections are ignored.
    const slave = slaves.find((r) => str(r.Connection_name) === '') ?? null;
    const statusRows = await sql.query(
      `SHOW GLOBAL STATUS WHERE Variable_name IN (${STATUS_VARS.map(() => '?').join(', ')})`,
      STATUS_VARS,
    );
    const st = new Map(statusRows.map((r) => [str(r.Variable_name), str(r.Value)]));
    const replication = slave && str(slave.Master_Host) !== '' ? replicationFrom(slave) : null;
    const state: NodeState = {
      flavor: 'mariadb',
      serverId: num(v.server_id),
      version: str(v.version),
      readOnly: bool(v.read_only),
      gtidStrictMode: bool(v.strict_mode),
      logReplicaUpdates: bool(v.log_slave_updates),
      gtid: {
        executed: mariadbExecuted(str(v.binlog_pos), str(v.slave_pos)),
        received: replication ? replication.received : null,
        history: str(v.binlog_state),
      },
      replication,
      semiSync: {
        masterEnabled: bool(v.ss_master),
        masterActive: bool(st.get('Rpl_semi_sync_master_status')),
        masterClients: num(st.get('Rpl_semi_sync_master_clients')),
        masterWaitSessions: num(st.get('Rpl_semi_sync_master_wait_sessions')),
        slaveEnabled: bool(v.ss_slave),
        slaveActive: bool(st.get('Rpl_semi_sync_slave_status')),
      },
      threadsConnected: num(st.get('Threads_connected')),
    };
    return state;
  },

  async stopIoThread(sql) {
    await sql.query('STOP SLAVE IO_THREAD');
  },

  async stopReplication(sql) {
    await sql.query('STOP SLAVE');
  },

  async startReplication(sql) {
    await sql.query('START SLAVE');
  },

  async resetReplication(sql) {
    await sql.query('STOP SLAVE');
    await sql.query('RESET SLAVE ALL');
  },

  async configureReplication(sql, source, repl, executed, opts) {
    const [p] = await sql.query('SELECT @@GLOBAL.gtid_slave_pos AS slave_pos');
    // A former primary's own writes are in its binlog but not in gtid_slave_pos: start after what
    // it executed, or it would ask the new source for transactions it already has.
    if (str(p?.slave_pos) !== executed) await sql.query('SET GLOBAL gtid_slave_pos = ?', [executed]);
    await sql.query(
      'CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, ' +
        'MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = ?, MASTER_HEARTBEAT_PERIOD = ?',
      [source.host, source.port, repl.user, repl.password, opts.connectRetrySec, opts.heartbeatSec],
    );
  },

  async setReadOnly(sql, on) {
    await sql.query(on ? 'SET GLOBAL read_only = ON' : 'SET GLOBAL read_only = OFF');
  },

  async setSemiSync(sql, sides) {
    if (sides.master !== undefined) {
      await sql.query(
        sides.master ? 'SET GLOBAL rpl_semi_sync_master_enabled = ON' : 'SET GLOBAL rpl_semi_sync_master_enabled = OFF',
      );
    }
    if (sides.slave !== undefined) {
      await sql.query(
        sides.slave ? 'SET GLOBAL rpl_semi_sync_slave_enabled = ON' : 'SET GLOBAL rpl_semi_sync_slave_enabled = OFF',
      );
    }
  },

  async waitApplied(sql, position, timeoutMs) {
    const secs = Math.max(0, timeoutMs) / 1000;
    const [r] = await sql.query('SELECT MASTER_GTID_WAIT(?, ?) AS r', [position, secs], timeoutMs + 2_000);
    return num(r?.r) === 0;
  },

  async sessions(sql) {
    const rows = await sql.query('SELECT ID, USER, COMMAND, STATE, TIME FROM information_schema.PROCESSLIST');
    return rows.map(
      (r): Session => ({
        id: num(r.ID),
        user: str(r.USER),
        command: str(r.COMMAND),
        state: str(r.STATE),
        timeSec: num(r.TIME),
      }),
    );
  },

  isInternalSession(s) {
    if (s.user === 'system user' || s.user === 'event_scheduler') return true;
    return /^(Binlog Dump|Slave_IO|Slave_SQL|Slave_worker|Daemon)/.test(s.command);
  },

  async currentSessionId(sql) {
    const [r] = await sql.query('SELECT CONNECTION_ID() AS id');
    return num(r?.id);
  },

  async killSession(sql, id) {
    try {
      await sql.query('KILL CONNECTION ?', [id]);
    } catch (e) {
      // 1094: unknown thread id, it ended on its own.
      if ((e as { errno?: number }).errno !== 1094) throw e;
    }
  },
};
