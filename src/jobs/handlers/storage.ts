// The cluster and storage jobs (cluster_mgr-api.md §3.1–3.4, 3.7, 3.8), fixing §11: every job ends,
// a failed install is rolled back, a new leader resumes. Intent is recorded before each effect: the
// shard and its nodes (status creating, host:port chosen) are in the log before any install_mysql, so
// a new leader finds them and checks the agents before installing again.
import type { Json } from '../../events/schema.js';
import { JobError, jobHandlerFor, registerJobHandler, type JobContext } from '../engine.js';
import {
  activateShard,
  ensureComputeUninstalled,
  ensureStorageInstalled,
  ensureStorageUninstalled,
  E_NO_PLACE,
  followPrimary,
  place,
  refreshSemiSync,
  refreshSemiSyncWithout,
  removeShard,
  STORAGE_STRIDE,
  wireShard,
} from '../shard-install.js';
import { num, optNum, req, str, strList, type Obj } from './request.js';
import { dropLogTables } from '../metadata.js';
import { refusedSlots } from '../port-moves.js';

interface Sizing {
  bufferMb: number;
  dbCfg: number;
}

function sizing(ctx: JobContext, cluster: number): Sizing {
  const memo = ctx.world.cluster(cluster)?.memo;
  const m = memo !== null && typeof memo === 'object' && !Array.isArray(memo) ? memo : {};
  const n = (k: string): number | null => (typeof m[k] === 'number' ? m[k] : null);
  // An adopted cluster has no sizing memo: use what its nodes were given.
  const any = ctx.world.shardsOf(cluster).flatMap((s) => ctx.world.nodesOf(s))[0];
  const fallback = any !== undefined ? ctx.world.node(any)!.innodbBufferPoolMB : 32;
  return { bufferMb: n('innodbSizeMB') ?? (fallback || 32), dbCfg: n('dbcfg') ?? 0 };
}

/** Shards named `names` in the cluster, each added with `nodes` nodes placed on `hosts` (once). */
async function placeShards(ctx: JobContext, cluster: number, names: string[], nodes: number, hosts: string[], sz: Sizing): Promise<number[]> {
  const ids: number[] = [];
  for (const name of names) {
    const have = ctx.world.shardByName(cluster, name);
    if (have !== null) {
      ids.push(have.id);
      continue;
    }
    // Ports this job's agents could not bind stay skipped for the job's later placements.
    const at = place(ctx.world, 'storage', hosts, nodes, STORAGE_STRIDE, refusedSlots(ctx.job));
    if (at === null) throw new JobError(E_NO_PLACE, `not enough free storage ports on ${hosts.length > 0 ? hosts.join(',') : 'the storage machines'} for ${nodes} nodes of ${name}`);
    await ctx.exec({ kind: 'shard.add', cluster, name, nodes: at.map((p) => ({ ...p, innodbBufferPoolMB: sz.bufferMb })) });
    ids.push(ctx.world.shardByName(cluster, name)!.id);
  }
  return ids;
}

/** The storage part of create_cluster and add_shards: place, install, wire, activate. */
async function buildShards(ctx: JobContext, cluster: number, names: string[], nodes: number, hosts: string[], total: number): Promise<number[]> {
  const sz = sizing(ctx, cluster);
  await ctx.step('place_shards', total, async () => {
    await placeShards(ctx, cluster, names, nodes, hosts, sz);
  });
  // Not the step's result: 256 shard ids would not fit a step record.
  const ids = names.map((n) => ctx.world.shardByName(cluster, n)!.id);
  await ctx.step('install_storage', total, async () => {
    const work = ids.flatMap((s) => {
      const members = ctx.world.nodesOf(s);
      return members.map((id, i) => ensureStorageInstalled(ctx, ctx.world.node(id)!, i === 0, sz.bufferMb, sz.dbCfg));
    });
    await settleAll(work);
  });
  await ctx.step('wire_replication', total, async () => {
    await settleAll(ids.map((s) => wireShard(ctx, s)));
  });
  await ctx.step('activate_shards', total, async () => {
    for (const s of ids) await activateShard(ctx, s);
  });
  return ids;
}

/** Like Promise.all, but waits for every effect to finish before reporting the first failure. */
async function settleAll(work: Promise<unknown>[]): Promise<void> {
  const rs = await Promise.allSettled(work);
  const bad = rs.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (bad !== undefined) throw bad.reason;
}

/** Uninstalls every instance of a cluster and removes it from the world (delete and rollback). */
async function teardownCluster(ctx: JobContext): Promise<void> {
  const r = req(ctx);
  const cluster = num(r, 'cluster_id');
  await ctx.waitChildren();
  const c = ctx.world.cluster(cluster);
  if (c !== null) {
    await settleAll(c.comps.map((id) => ensureComputeUninstalled(ctx, ctx.world.comp(id)!)));
    await settleAll(c.shards.flatMap((s) => ctx.world.nodesOf(s).map((id) => ensureStorageUninstalled(ctx, ctx.world.node(id)!))));
    await ctx.exec({ kind: 'cluster.delete', cluster });
  }
  // Also after a leader change that happened once the cluster was gone: dropping is idempotent.
  await dropLogTables(ctx, str(r, 'cluster_name'));
}

function shardNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `shard_${i + 1}`);
}

async function createCluster(ctx: JobContext): Promise<Json> {
  const r = req(ctx);
  const cluster = num(r, 'cluster_id');
  const total = 7;
  const sz = sizing(ctx, cluster);
  const names = shardNames(num(r, 'shards'));
  const hosts = strList(r, 'storage_iplists');
  await ctx.step('place_shards', total, async () => {
    await placeShards(ctx, cluster, names, num(r, 'nodes'), hosts, sz);
  });
  // The compute nodes install in parallel with the storage nodes, as a child add_comps job (their
  // shard topology is kept current by the compute topology reconciler as the shards come up).
  let compsJob: number | null = null;
  if (jobHandlerFor('internal_add_comps') !== undefined) {
    // The original's internal type: XPanel's alarms and job counts treat add_comps as a user's job.
    compsJob = await ctx.startChild('start_comps', total, 'internal_add_comps', { cluster_id: cluster, comps: num(r, 'comps'), computer_iplists: strList(r, 'computer_iplists') });
  }
  const shards = await buildShards(ctx, cluster, names, num(r, 'nodes'), hosts, total);
  const comps: Json = compsJob === null ? 'not created: no add_comps handler is registered' : await ctx.waitChild(compsJob);
  await ctx.step('cluster_inuse', total, async () => {
    if (ctx.world.cluster(cluster)?.status === 'creating') await ctx.exec({ kind: 'cluster.set_status', cluster, status: 'inuse' });
  });
  return { cluster_id: cluster, cluster_name: ctx.world.cluster(cluster)!.name, shard_ids: shards, comps };
}

async function deleteCluster(ctx: JobContext): Promise<Json> {
  const r = req(ctx);
  const cluster = num(r, 'cluster_id');
  await ctx.step('mark_deleting', 2, async () => {
    const c = ctx.world.cluster(cluster);
    if (c !== null && c.status !== 'deleting') await ctx.exec({ kind: 'cluster.set_status', cluster, status: 'deleting' });
  });
  await ctx.step('uninstall_and_remove', 2, () => teardownCluster(ctx));
  return { cluster_id: cluster, cluster_name: r.cluster_name ?? '' };
}

/** The original's `shard_<n>`: n continues after the highest numeric suffix in the cluster. */
function nextShardNumber(ctx: JobContext, cluster: number): number {
  let max = 0;
  for (const id of ctx.world.shardsOf(cluster)) {
    const m = /_(\d+)$/.exec(ctx.world.shard(id)?.name ?? '');
    if (m !== null) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

const namesFrom = (first: number, n: number): string[] => Array.from({ length: n }, (_, i) => `shard_${first + i}`);

async function addShards(ctx: JobContext): Promise<Json> {
  const r = req(ctx);
  const cluster = num(r, 'cluster_id');
  // The plan (the first new number) is recorded, so a rerun uses the same names and the rollback knows them.
  const first = await ctx.step<number>('plan', 5, () => Promise.resolve(nextShardNumber(ctx, cluster)));
  const names = namesFrom(first, num(r, 'shards'));
  const ids = await buildShards(ctx, cluster, names, num(r, 'nodes'), strList(r, 'storage_iplists'), 5);
  return { cluster_id: cluster, shard_ids: ids, shard_names: names };
}

/** add_shards' rollback: the shards this job planned, whatever state they reached. */
async function addShardsRollback(ctx: JobContext): Promise<void> {
  const r = req(ctx);
  const cluster = num(r, 'cluster_id');
  const plan = ctx.job.steps.find((s) => s.step === 'plan' && s.ok);
  if (plan === undefined) return;
  for (const name of namesFrom(Number(plan.info), num(r, 'shards'))) {
    const s = ctx.world.shardByName(cluster, name);
    if (s !== null) await removeShard(ctx, s.id);
  }
}

async function deleteShard(ctx: JobContext): Promise<Json> {
  const r = req(ctx);
  const shard = num(r, 'shard_id');
  await ctx.step('mark_deleting', 2, async () => {
    const s = ctx.world.shard(shard);
    if (s !== null && s.status !== 'deleting') await ctx.exec({ kind: 'shard.set_status', shard, status: 'deleting' });
  });
  await ctx.step('uninstall_and_remove', 2, async () => removeShard(ctx, shard));
  return { cluster_id: num(r, 'cluster_id'), shard_id: shard };
}

/** Target shards of add_nodes: the one named, or every shard of the cluster (§3.7). */
function addNodesTargets(ctx: JobContext, r: Obj): number[] {
  const shard = optNum(r, 'shard_id');
  return shard !== null ? [shard] : ctx.world.shardsOf(num(r, 'cluster_id'));
}

/** New nodes of a shard: still `creating` (the cluster lock keeps other jobs out while this runs). */
function newNodes(ctx: JobContext, shard: number): number[] {
  return ctx.world.nodesOf(shard).filter((id) => ctx.world.node(id)!.status === 'creating');
}

async function addNodes(ctx: JobContext): Promise<Json> {
  const r = req(ctx);
  const cluster = num(r, 'cluster_id');
  const count = num(r, 'nodes');
  const hosts = strList(r, 'storage_iplists');
  const sz = sizing(ctx, cluster);
  const targets = addNodesTargets(ctx, r);
  const total = 4;
  // One node.add per node: what a dead leader already added is found as `creating` and counted.
  await ctx.step('place_nodes', total, async () => {
    for (const shard of targets) {
      const missing = count - newNodes(ctx, shard).length;
      if (missing <= 0) continue;
      const existing = ctx.world.nodesOf(shard).map((id) => ctx.world.node(id)!.hostaddr);
      const at = place(ctx.world, 'storage', hosts, missing, STORAGE_STRIDE, refusedSlots(ctx.job), existing);
      if (at === null) throw new JobError(70162, `not enough free storage ports for ${missing} nodes of shard ${shard}`);
      for (const p of at) await ctx.exec({ kind: 'node.add', shard, ...p, innodbBufferPoolMB: sz.bufferMb });
    }
  });
  await ctx.step('install_nodes', total, async () => {
    await settleAll(targets.flatMap((s) => newNodes(ctx, s).map((id) => ensureStorageInstalled(ctx, ctx.world.node(id)!, false, sz.bufferMb, sz.dbCfg))));
  });
  await ctx.step('wire_nodes', total, async () => {
    await settleAll(
      targets.flatMap((s) => {
        const primary = ctx.world.primaryOf(s);
        if (primary === null) throw new JobError(70166, `shard ${s} has no primary to replicate from`);
        return newNodes(ctx, s).map((id) => followPrimary(ctx, ctx.world.node(id)!, ctx.world.node(primary)!, 60_000));
      }),
    );
    // A shard that was a lone primary waits for its new replicas' acks from now on.
    for (const s of targets) await refreshSemiSync(ctx, s);
  });
  const added: Json[] = [];
  await ctx.step('activate_nodes', total, async () => {
    for (const s of targets) {
      for (const id of newNodes(ctx, s)) {
        const n = ctx.world.node(id)!;
        added.push({ shard_id: s, node_id: id, hostaddr: n.hostaddr, port: n.port });
        await ctx.exec({ kind: 'node.set_status', node: id, status: 'active' });
      }
    }
  });
  return { cluster_id: cluster, nodes: added };
}

async function addNodesRollback(ctx: JobContext): Promise<void> {
  for (const s of addNodesTargets(ctx, req(ctx))) {
    for (const id of newNodes(ctx, s)) {
      await ensureStorageUninstalled(ctx, ctx.world.node(id)!);
      await ctx.exec({ kind: 'node.delete', node: id });
    }
  }
}

async function deleteNode(ctx: JobContext): Promise<Json> {
  const r = req(ctx);
  const node = num(r, 'node_id');
  const shard = num(r, 'shard_id');
  await ctx.step('uninstall_node', 2, async () => {
    const n = ctx.world.node(node);
    if (n === null) return;
    // Its last replica going: the primary stops waiting for acks before the replica stops sending them.
    if (ctx.world.nodesOf(shard).length <= 2) await refreshSemiSyncWithout(ctx, shard, node);
    await ensureStorageUninstalled(ctx, n);
  });
  await ctx.step('remove_node', 2, async () => {
    if (ctx.world.node(node) !== null) await ctx.exec({ kind: 'node.delete', node });
  });
  return { cluster_id: num(r, 'cluster_id'), shard_id: shard, node_id: node };
}

registerJobHandler('create_cluster', createCluster, { rollback: (ctx) => teardownCluster(ctx) });
registerJobHandler('delete_cluster', deleteCluster);
registerJobHandler('add_shards', addShards, { rollback: addShardsRollback });
registerJobHandler('delete_shard', deleteShard);
registerJobHandler('add_nodes', addNodes, { rollback: addNodesRollback });
registerJobHandler('delete_node', deleteNode);
