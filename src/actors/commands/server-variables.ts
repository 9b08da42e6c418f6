// Which server variables get_variable may read and set_variable may change, and which values a change
// may carry. A variable name cannot be a SQL parameter, so it must match a strict pattern (read) and a
// whitelist (write); the job quotes it as an identifier besides. Pure: used by the job's validator.

/** A server variable name: what may be read, and the first check of what may be written. */
export const VARIABLE_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * Storage variables an operator may change: tuning knobs. Replication, read-only, GTID, binlog and
 * identity variables are the HA reconcilers' business and are refused.
 */
const STORAGE_SETTABLE = [
  /^innodb_(buffer_pool_size|io_capacity|io_capacity_max|lock_wait_timeout|flush_log_at_trx_commit|print_all_deadlocks|stats_on_metadata|max_dirty_pages_pct|thread_concurrency)$/,
  /^(max_connections|max_user_connections|max_allowed_packet|max_execution_time|max_heap_table_size|tmp_table_size)$/,
  /^(wait_timeout|interactive_timeout|lock_wait_timeout|net_read_timeout|net_write_timeout|connect_timeout)$/,
  /^(long_query_time|slow_query_log|log_queries_not_using_indexes|general_log|log_warnings)$/,
  /^(table_open_cache|table_definition_cache|thread_cache_size|sort_buffer_size|read_buffer_size|join_buffer_size|binlog_cache_size|sync_binlog)$/,
];

const COMPUTE_SETTABLE = [
  /^(work_mem|maintenance_work_mem|statement_timeout|lock_timeout|idle_in_transaction_session_timeout)$/,
  /^(log_min_duration_statement|log_statement|log_connections|log_disconnections|deadlock_timeout|max_parallel_workers_per_gather)$/,
  /^(enable_[a-z_]+)$/,
];

export type InstanceKind = 'storage' | 'compute';

export function isSettable(kind: InstanceKind, name: string): boolean {
  return VARIABLE_NAME_RE.test(name) && (kind === 'storage' ? STORAGE_SETTABLE : COMPUTE_SETTABLE).some((re) => re.test(name));
}

/** An int value: a signed integer JavaScript holds exactly (it travels as a number parameter). */
export const INT_VALUE_RE = /^-?[0-9]{1,16}$/;

/**
 * A string value of a compute-node setting. ALTER SYSTEM takes no parameters, so the value is an
 * escaped literal and, besides, limited to what PostgreSQL settings are written with ("8MB", "on",
 * "1.5s", "ddl"). A storage string value travels as a parameter of SET GLOBAL.
 */
export const COMPUTE_STRING_VALUE_RE = /^[A-Za-z0-9_.+-]{1,64}$/;

/** The reason a value may not be set, or null when it may. */
export function valueProblem(kind: InstanceKind, type: 'int' | 'string', value: string): string | null {
  if (type === 'int') {
    if (!INT_VALUE_RE.test(value) || !Number.isSafeInteger(Number(value))) return 'must be an integer when type is int';
    return null;
  }
  if (kind === 'compute' && !COMPUTE_STRING_VALUE_RE.test(value)) {
    return 'must be 1 to 64 letters, digits, ".", "_", "+" or "-" on a compute node';
  }
  return null;
}

/** A variable's value as the answers show it: text, or null when the server has no such variable. */
export function variableText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return v.toString();
  return JSON.stringify(v);
}
