// The XA resolver's timing, read from configuration in one place: the resolver's scans and windows,
// and delete_cluster's wait for prepared branches (src/jobs/prepared-branches.ts) use the same values.
import type { Config } from './load.js';

export interface Windows {
  /** A branch must have been seen this long (two scans) before anything is done: the compute node may
   *  still be ending it over its own connection. */
  settleMs: number;
  /** No decision and seen at least this long: the compute node can no longer log a commit. */
  safetyMs: number;
}

export interface XaSettings {
  scanMs: number;
  windows: Windows;
  retentionSec: number;
  pruneEveryMs: number;
  statementMs: number;
  connectTimeoutMs: number;
}

/** The compute nodes' own commit-log wait plus this margin is the least safety window allowed. */
const WINDOW_MARGIN_SEC = 2;

export function xaSettings(cfg: Config): XaSettings {
  const scanMs = cfg.int('xa_scan_interval_ms');
  const safetySec = Math.max(cfg.int('xa_safety_window_sec'), cfg.int('global_txn_commit_log_wait_max_sec') + WINDOW_MARGIN_SEC);
  return {
    scanMs,
    windows: { settleMs: scanMs, safetyMs: safetySec * 1000 },
    retentionSec: cfg.int('commit_log_retention_hours') * 3600,
    pruneEveryMs: cfg.int('commit_log_prune_interval_sec') * 1000,
    statementMs: cfg.int('mysql_read_timeout') * 1000,
    connectTimeoutMs: cfg.int('mysql_connect_timeout') * 1000,
  };
}
