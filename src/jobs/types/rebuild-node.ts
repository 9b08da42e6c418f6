// rebuild_node and its per-node child rb_shard_node (cluster_mgr-api.md §3.9; XPanel's rebuild screen).
// The steps are in src/jobs/handlers/rebuild.ts; this is their one definition.
import type { JobView, World } from '../../actors/index.js';
import { refuse } from '../../actors/commands/common.js';
import type { Json } from '../../events/schema.js';
import type { JobTypeDefinition, JsonSchema } from '../definition.js';
import {
  E_RB_NO_SOURCE,
  E_RB_NOT_IN_SHARD,
  RB_NODE_STEPS,
  REBUILD_STEPS,
  rebuildNode,
  rebuildNodeRollback,
  rebuildOneNode,
  rebuildOneNodeRollback,
} from '../handlers/rebuild.js';
import { clusterRef } from './paras.js';
import { clusterById, clusterLock, fail, nodeAt, shardIn } from './world-checks.js';
import { childJobs, requestOf } from './xpanel.js';

/** What get_status's job_step lists: a node's steps, then "done". */
const JOB_STEP = [...RB_NODE_STEPS, 'done'].join(',');

const NODE_ENTRY: JsonSchema = {
  type: 'object',
  optional: true,
  description:
    'one key per rebuilt node, named "<hostaddr>_<port>": status (ongoing | done | failed), step (its current step), error_code, error_info; ' +
    'also job_id (its rb_shard_node job), source, bytes, mb_per_s once copied',
  properties: {
    status: { type: 'string', enum: ['ongoing', 'done', 'failed'] },
    step: { type: 'string' },
    error_code: { type: 'string' },
    error_info: { type: 'string' },
  },
};

/** A rebuilt node's entry as XPanel reads it (and the original's GetRebuildNodeStatus built it). */
function nodeEntry(parent: JobView, child: JobView | undefined): Record<string, string> {
  if (child === undefined) {
    const failed = parent.status === 'failed';
    return { status: failed ? 'failed' : 'ongoing', step: RB_NODE_STEPS[0], error_code: failed ? String(parent.errorCode) : '0', error_info: failed ? parent.errorInfo : '' };
  }
  const done = child.status === 'done';
  const failed = child.status === 'failed';
  const own = child.steps.filter((s) => (RB_NODE_STEPS as readonly string[]).includes(s.step));
  const step = done ? 'done' : (child.step?.name ?? own[own.length - 1]?.step ?? RB_NODE_STEPS[0]);
  // The copy's figures once received, else the latest progress report of the running step.
  const copied = own.find((s) => s.step === RB_NODE_STEPS[1] && s.ok);
  const note = child.step?.name === RB_NODE_STEPS[1] ? child.step.note : undefined;
  const figures = parseFigures(copied?.info ?? note);
  const source = own.find((s) => s.step === RB_NODE_STEPS[0] && s.ok);
  return {
    status: done ? 'done' : failed ? 'failed' : 'ongoing',
    step,
    error_code: failed ? String(child.errorCode) : '0',
    error_info: failed ? child.errorInfo : '',
    job_id: String(child.id),
    ...(source !== undefined ? { source: String((JSON.parse(source.info) as { source?: string }).source ?? '') } : {}),
    ...(figures.bytes !== undefined ? { bytes: String(figures.bytes), mb_per_s: String(figures.mb_per_s ?? 0) } : {}),
  };
}

function parseFigures(text: string | undefined): { bytes?: number; mb_per_s?: number } {
  if (text === undefined || text === '') return {};
  try {
    return JSON.parse(text) as { bytes?: number; mb_per_s?: number };
  } catch {
    return {};
  }
}

function attachment(job: JobView, world: World): Record<string, unknown> {
  const out: Record<string, unknown> = { job_step: JOB_STEP };
  const kids = childJobs(world, job);
  const nodes = requestOf(job).rb_nodes;
  for (const n of Array.isArray(nodes) ? nodes : []) {
    const o = n as { node?: Json; hostaddr?: Json; port?: Json };
    if (typeof o.hostaddr !== 'string' || typeof o.port !== 'number') continue;
    out[`${o.hostaddr}_${o.port}`] = nodeEntry(job, kids.find((k) => requestOf(k).node === o.node));
  }
  return out;
}

export const rebuildNodeJob: JobTypeDefinition = {
  kind: 'job',
  name: 'rebuild_node',
  role: 'operator',
  sync: false,
  internal: false,
  summary: 'rebuild replicas of a shard from a streamed physical copy of a healthy node (the first from the source, the others from the first)',
  missingParas: 70005,
  paras: {
    cluster_id: clusterRef(70025, 'cluster id'),
    shard_id: clusterRef(70024, 'shard id'),
    rb_nodes: {
      kind: 'list',
      maxItems: 16,
      required: true,
      missing: 70036,
      help: 'the replicas to rebuild',
      items: {
        hostaddr: { kind: 'host', required: true, missing: 70037, help: "the node's host" },
        port: { kind: 'int', min: 1, max: 65_535, required: true, missing: 70038, help: "the node's port" },
        need_backup: { kind: 'int', min: 0, max: 1, def: 0, help: '"1": keep the old data dir aside on its host (data.old-<time>) instead of removing it' },
        hdfs_host: { kind: 'string', maxLen: 255, help: "the original's HDFS target for the old data; accepted and not used (the old data stays on the node's host)" },
        pv_limit: { kind: 'int', min: 0, max: 100_000, def: 10, help: 'copy rate limit, MB/s (0: none)' },
      },
    },
    allow_pull_from_master: { kind: 'int', min: 0, max: 1, def: 0, help: '"1": copy from the primary when no replica qualifies' },
    allow_replica_delay: { kind: 'int', min: 0, max: 2_147_483_647, def: 30, help: 'the most a source replica may lag, seconds' },
  },
  accept(world, p) {
    const cluster = clusterById(world, p, 'cluster_id', 70025);
    const shard = shardIn(world, p, cluster, 'shard_id', 70024);
    const s = world.shard(shard)!;
    if (s.primary === null) fail(refuse('invalid_state', `shard ${shard} has no primary to rebuild from`, 'paras.shard_id', E_RB_NO_SOURCE));
    if (s.task !== null) fail(refuse('busy', `shard ${shard} is in ${s.task.kind} task ${s.task.task}: try again when it has ended`, 'paras.shard_id'));
    const seen = new Set<number>();
    const rb = p.array('rb_nodes', 70036).map((it, i) => {
      const field = `paras.rb_nodes[${i}]`;
      const host = String(it.hostaddr);
      const port = Number(it.port);
      const node = nodeAt(world, shard, host, port, field, E_RB_NOT_IN_SHARD);
      if (node === s.primary) fail(refuse('invalid_state', `${host}:${port} is the primary of shard ${shard}: switch it first (manual_switch), then rebuild it`, field, E_RB_NOT_IN_SHARD));
      if (seen.has(node)) fail(refuse('invalid_argument', `${host}:${port} is listed twice`, field));
      seen.add(node);
      return { node, hostaddr: host, port, need_backup: Number(it.need_backup ?? 0), pv_limit: Number(it.pv_limit ?? 10) };
    });
    const allowMaster = p.flag('allow_pull_from_master', false);
    const sources = s.nodes.filter((id) => id !== s.primary && !seen.has(id) && world.node(id)?.repair === 'ok' && world.node(id)?.health !== 'dead');
    if (sources.length === 0 && !allowMaster) {
      fail(refuse('invalid_state', `shard ${shard} has no other healthy replica to copy from; send allow_pull_from_master "1" to copy from the primary`, 'paras.allow_pull_from_master', E_RB_NO_SOURCE));
    }
    const request = {
      cluster_id: cluster,
      shard_id: shard,
      rb_nodes: rb,
      allow_pull_from_master: allowMaster ? 1 : 0,
      allow_replica_delay: p.optInt('allow_replica_delay', 30, { min: 0 }),
    };
    return { request, cluster, lock: clusterLock(cluster) };
  },
  steps: REBUILD_STEPS,
  run: rebuildNode,
  rollback: rebuildNodeRollback,
  attachment: {
    description: 'as XPanel reads it: job_step (the per-node steps) and one "<hostaddr>_<port>" key per rebuilt node; nothing else (XPanel takes every other key for a node)',
    keys: { job_step: { type: 'string', description: 'comma list of the per-node step names' }, '<hostaddr>_<port>': NODE_ENTRY },
    build: attachment,
    only: true,
  },
  writes: ['shard_nodes'],
};

/** One node's rebuild, a child of rebuild_node (the original's rb_shard_node row). */
export const rbShardNodeJob: JobTypeDefinition = {
  kind: 'job',
  name: 'rb_shard_node',
  role: 'operator',
  sync: false,
  internal: true,
  summary: "one node's rebuild, a child of rebuild_node",
  missingParas: 70005,
  paras: {},
  steps: RB_NODE_STEPS,
  run: rebuildOneNode,
  rollback: rebuildOneNodeRollback,
  attachment: { description: 'the common keys; the result holds the copy figures', keys: {} },
  writes: ['shard_nodes'],
};
