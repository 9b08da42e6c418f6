// expand_cluster and get_expand_table_list (cluster_mgr-api.md §3.10, §3.24; XPanel's scale-out screen
// reads job_info.paras.{cluster_id,src_shard_id,dst_shard_id,table_list,drop_old_table}). The move's
// steps are in src/jobs/handlers/expand.ts; this is their one definition.
import type { JobView } from '../../actors/index.js';
import { refuse } from '../../actors/commands/common.js';
import { TABLE_MOVE_JOB_TYPE } from '../../metadata/table-move-jobs.js';
import { parseTableName, TABLE_NAME_HELP, TABLE_NAME_RE } from '../../storage-node/table-shape.js';
import type { JobTypeDefinition, QueryDefinition } from '../definition.js';
import { E_EXPAND_TABLE, EXPAND_STEPS, expandCluster, expandClusterRollback, moveStage } from '../handlers/expand.js';
import { clusterRef } from './paras.js';
import { clusterById, clusterLock, fail, shardIn } from './world-checks.js';

export const expandClusterJob: JobTypeDefinition = {
  kind: 'job',
  name: TABLE_MOVE_JOB_TYPE,
  role: 'operator',
  sync: false,
  internal: false,
  summary: 'move tables from one shard of a cluster to another while they are written (copy, catch-up, verified cut-over, reroute)',
  missingParas: 70005,
  paras: {
    cluster_id: clusterRef(70025, 'cluster id'),
    src_shard_id: clusterRef(70024, 'the shard the tables are on'),
    dst_shard_id: clusterRef(70024, 'the shard they move to'),
    table_list: {
      kind: 'stringList',
      pattern: TABLE_NAME_RE,
      patternHelp: TABLE_NAME_HELP,
      maxLen: 190,
      maxItems: 64,
      bad: E_EXPAND_TABLE,
      help: 'tables as the compute nodes name them (storage database db_$$_schema); empty or absent: the 3 largest of each storage database of the source',
    },
    drop_old_table: { kind: 'enum', values: ['0', '1'], def: '0', help: '"1": drop the old tables after the move; "0": keep them renamed <table>_moved_<job_id>' },
  },
  accept(world, p, _e, values) {
    const cluster = clusterById(world, p, 'cluster_id', 70025);
    const src = shardIn(world, p, cluster, 'src_shard_id', 70024);
    const dst = shardIn(world, p, cluster, 'dst_shard_id', 70024);
    if (src === dst) fail(refuse('invalid_argument', `is shard ${src}, the source: tables move to another shard`, 'paras.dst_shard_id', 70024));
    for (const [key, id] of [['src_shard_id', src], ['dst_shard_id', dst]] as const) {
      const s = world.shard(id)!;
      if (s.primary === null) fail(refuse('invalid_state', `shard ${id} has no primary at the moment`, `paras.${key}`, 70024));
      if (s.task !== null) fail(refuse('busy', `shard ${id} is in ${s.task.kind} task ${s.task.task}: try again when it has ended`, `paras.${key}`));
    }
    const list = (values.table_list as string[] | undefined) ?? [];
    for (const [i, text] of list.entries()) {
      try {
        parseTableName(text);
      } catch (e) {
        fail(refuse('invalid_argument', (e as Error).message, `paras.table_list[${i}]`, E_EXPAND_TABLE));
      }
    }
    const request = { cluster_id: cluster, src_shard_id: src, dst_shard_id: dst, table_list: list, drop_old_table: values.drop_old_table === '1' ? 1 : 0 };
    return { request, cluster, lock: clusterLock(cluster) };
  },
  steps: EXPAND_STEPS,
  run: expandCluster,
  rollback: expandClusterRollback,
  attachment: {
    description:
      "the common keys; get_status's top-level status is the move's stage as the original answered it " +
      '(not_started | loaded | caught_up | renamed | rerouted | done | failed); memo_info holds the stage and the figures',
    keys: {
      memo_info: {
        type: 'object',
        description: 'stage, table_list, src_shard_id, dst_shard_id; once done rows, copy_rows_per_s, replayed, checksum, verified_rows, old_tables',
        properties: { stage: { type: 'string' }, table_list: { type: 'string' } },
      },
    },
    build: (job) => ({ memo_info: memoInfo(job) }),
    status: moveStage,
  },
  writes: ['table_move_jobs'],
};

const idText = (v: unknown): string => (typeof v === 'number' ? String(v) : '');

function memoInfo(job: JobView): Record<string, unknown> {
  const r = (job.request ?? {}) as Record<string, unknown>;
  const result = job.result !== null && typeof job.result === 'object' && !Array.isArray(job.result) ? job.result : {};
  const list = Array.isArray(r.table_list) ? (r.table_list as string[]).join(',') : '';
  return { stage: moveStage(job), table_list: list, src_shard_id: idText(r.src_shard_id), dst_shard_id: idText(r.dst_shard_id), ...result };
}

export const getExpandTableListQuery: QueryDefinition = {
  kind: 'query',
  name: 'get_expand_table_list',
  role: 'read',
  sync: true,
  internal: false,
  summary: 'tables of a shard to move: the 3 largest of each storage database (top_size) or the 3 most recently written (top_hit)',
  missingParas: 70005,
  paras: {
    cluster_id: clusterRef(70025, 'cluster id'),
    shard_id: clusterRef(70024, 'shard id'),
    policy: { kind: 'enum', values: ['top_size', 'top_hit'], required: true, help: 'top_size: largest per storage database; top_hit: most recently written' },
    compute_ip: { kind: 'host', help: 'sent by XPanel; not used' },
    compute_port: { kind: 'int', min: 0, max: 65_535, help: 'sent by XPanel; not used' },
    compute_database: { kind: 'string', maxLen: 64, help: 'sent by XPanel; not used' },
  },
  attachment: { description: 'the tables as "db.schema.table", comma separated', keys: { table_list: { type: 'string' } } },
};
