// Retention's choice (pure): per shard, beyond the newest N or older than D days, never the newest
// done backup, never one a restore needs, nothing already deleted, nothing failed or of another cluster.
import t from 'tap';
import { retentionVictims, type BackupRecord } from '../../src/actors/index.js';

const DAY = 86_400_000;
const NOW = 100 * DAY;

function b(job: number, shard: number, ageDays: number, over: Partial<BackupRecord> = {}): BackupRecord {
  return {
    job_id: job, parent_job_id: null, cluster_id: 1, shard_id: shard, backup_storage: 'fs1', status: 'done', started_at: NOW - ageDays * DAY - 1000,
    ended_at: NOW - ageDays * DAY, node: '', why: '', bytes: 0, stored_bytes: 0, sha256: '', gtid: '', binlog_file: '', binlog_pos: 0, data_key: '', manifest_key: '',
    error_info: '', verify: null, deleted_by: null, ...over,
  };
}

const all = [b(10, 1, 9), b(11, 2, 9), b(20, 1, 5), b(21, 2, 5), b(30, 1, 1), b(31, 2, 1, { status: 'failed' }), b(40, 1, 0.5, { cluster_id: 2 }), b(5, 1, 20, { deleted_by: 7 })];
const ids = (xs: BackupRecord[]) => xs.map((x) => x.job_id);

t.test('keep N per shard', (t) => {
  t.same(ids(retentionVictims(all, 1, { count: 1, days: 0 }, NOW, new Set())), [10, 11, 20], 'shard 1 keeps 30; shard 2 keeps 21 (31 failed)');
  t.same(ids(retentionVictims(all, 1, { count: 2, days: 0 }, NOW, new Set())), [10], 'shard 2 has only two done backups');
  t.same(ids(retentionVictims(all, 1, { count: 0, days: 0 }, NOW, new Set())), [], 'no limit: nothing');
  t.end();
});

t.test('keep days; the newest always stays; a needed one stays', (t) => {
  t.same(ids(retentionVictims(all, 1, { count: 0, days: 3 }, NOW, new Set())), [10, 11, 20], "shard 2's newest done backup (21, 5 days old) stays");
  t.same(ids(retentionVictims(all, 1, { count: 0, days: 3 }, NOW, new Set([10]))), [11, 20], 'one a restore needs stays');
  t.same(ids(retentionVictims(all, 1, { count: 0, days: 0.1 }, NOW, new Set())), [10, 11, 20], 'even when every one is old');
  t.end();
});
