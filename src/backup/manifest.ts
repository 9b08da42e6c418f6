// Where a shard's backup lies in a backup storage and the manifest written next to its data: what a
// restore (and point-in-time recovery, which replays binlogs from `binlog`) needs to find and trust it.
import type { BinlogPosition } from '../agent/copy-target.js';

export const MANIFEST_FORMAT = 1;

/** The keys of one shard backup: cluster-<id>/shard-<id>/job-<id>/{data.xbstream.gz,manifest.json}. */
export function backupKeys(cluster: number, shard: number, job: number): { dir: string; data: string; manifest: string } {
  const dir = `cluster-${cluster}/shard-${shard}/job-${job}`;
  return { dir, data: `${dir}/data.xbstream.gz`, manifest: `${dir}/manifest.json` };
}

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  cluster_id: number;
  cluster_name: string;
  shard_id: number;
  shard_name: string;
  /** The storage node the copy was taken from, and why it was chosen. */
  node: { id: number; hostaddr: string; port: number; why: string };
  /** The shard_coldbackup job that took it, and its parent. */
  job_id: number;
  parent_job_id: number | null;
  storage: string;
  /** The object holding the gzip-compressed xbstream: its size and SHA-256 as stored. */
  data: { key: string; bytes: number; sha256: string; compression: 'gzip' };
  /** The xbstream as the source sent it (before compression): its size and SHA-256. */
  stream: { bytes: number; sha256: string };
  /** The source's binlog coordinates and GTID position at the copy point (mariadb-backup's binlog info). */
  binlog: BinlogPosition | null;
  /** ISO 8601 times of the stream's start and end. */
  started_at: string;
  ended_at: string;
  /** mariadb-backup's tool_version and the server's version, from the backup's info file. */
  tool_version: string;
  server_version: string;
}

/** "key = value" lines of xtrabackup_info / mariadb_backup_info. */
export function infoValue(text: string | undefined, key: string): string {
  if (text === undefined) return '';
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m?.[1] === key) return m[2] ?? '';
  }
  return '';
}

/** The backup's info file: the 11.x name, then 10.11's. */
export const INFO_FILES = ['mariadb_backup_info', 'xtrabackup_info'] as const;
