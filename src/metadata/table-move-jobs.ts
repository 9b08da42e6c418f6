// table_move_jobs: one row per expand_cluster job, its id the job's id (cluster_general_job_log's
// related_id points at it, as the original's did). status is the move's stage in the original's words;
// XPanel and get_status of the original read it. The job writes its row at every stage.
import type { Connection } from 'mysql2/promise';

/** The job type whose cluster_general_job_log row has a related table_move_jobs row. */
export const TABLE_MOVE_JOB_TYPE = 'expand_cluster';

/** The stages of a move as the original's status column holds them. */
export const MOVE_STAGES = ['not_started', 'dumped', 'transmitted', 'loaded', 'caught_up', 'renamed', 'rerouted', 'done', 'failed'] as const;
export type MoveStage = (typeof MOVE_STAGES)[number];

export interface TableMoveRow {
  id: number;
  tableList: string;
  srcShard: number;
  destShard: number;
  status: MoveStage;
  /** Where the copy began on the source: its binlog file and offset (informative). */
  binlogFile: string | null;
  binlogOffset: number | null;
  memo: string;
  ended: boolean;
}

/** Inserts or updates the row (a rerun of a stage writes the same values). */
export async function upsertTableMove(c: Connection, r: TableMoveRow): Promise<void> {
  await c.query(
    'INSERT INTO table_move_jobs (id, table_list, src_shard, dest_shard, snapshot_binlog_file_idx, snapshot_binlog_file_offset, tab_file_format, status, memo, when_ended) ' +
      "VALUES (?, ?, ?, ?, ?, ?, 'logical', ?, ?, IF(?, CURRENT_TIMESTAMP(6), NULL)) " +
      'ON DUPLICATE KEY UPDATE table_list = VALUES(table_list), snapshot_binlog_file_idx = VALUES(snapshot_binlog_file_idx), ' +
      'snapshot_binlog_file_offset = VALUES(snapshot_binlog_file_offset), status = VALUES(status), memo = VALUES(memo), when_ended = VALUES(when_ended)',
    [r.id, r.tableList, r.srcShard, r.destShard, r.binlogFile, r.binlogOffset, r.status, r.memo, r.ended],
  );
}
