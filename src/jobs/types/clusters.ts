// The cluster and storage jobs (cluster_mgr-api.md §3.1–3.4, 3.7, 3.8), fixing §11: every job ends,
// a failed install is rolled back, a new leader resumes. Intent is recorded before each effect: the
// shard and its nodes (status creating, host:port chosen) are in the log before any install_mysql, so
// a new leader finds them and checks the agents before installing again.
import type { Json } from '../../events/schema.js';
import { JobError, type JobContext } from '../engine.js';
import {
  activateShard,
  ensureComputeUninstalled,
  ensureStorageInstalled,
  ensureStorageUninstalled,
  ensureNoPreparedBranches,
  E_NO_PLACE,
  followPrimary,
  place,
  refreshSemiSync,
  refreshSemiSyncWithout,
  removeShard,
  STORAGE_STRIDE,
  wireShard,
} from '../shard-install.js';
import { chooseSource, rbNodeRequest } from '../handlers/rebuild.js';
import { num, optNum, req, str, strList, type Obj } from '../handlers/request.js';
import { dropLogTables } from '../metadata.js';
import { refusedSlots } from '../port-moves.js';
import type { Command, JobView, World } from '../../actors/index.js';
import { refuse } from '../../actors/commands/common.js';
import { INT_LIMITS as L, STR_LIMITS, UNSUPPORTED_HA_MODES } from '../../actors/commands/para-limits.js';
import type { AttachmentShape, JobTypeDefinition } from '../definition.js';
import { clusterRef, count, id, nickName, password, user } from './paras.js';
import { clusterById, clusterLock, fail, nodeAt, registeredHosts, shardIn } from './world-checks.js';
import { childJobs, HOST_LIST, hostList, JOB_ID, jobState, NAMED_HOSTS, NAMED_IDS, PART_STATE, partState, requestOf, shardHosts, stepBegan, stepDone, text } from './xpanel.js';

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
    // No compute node starts a global transaction any more; the decisions in commit_log_<cluster> are
    // kept until every branch they decide has ended (prepared-branches.ts).
    await ensureNoPreparedBranches(ctx, cluster);
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
  // The original's internal type: XPanel's alarms and job counts treat add_comps as a user's job.
  const compsJob = await ctx.startChild('start_comps', total, 'internal_add_comps', { cluster_id: cluster, comps: num(r, 'comps'), computer_iplists: strList(r, 'computer_iplists') });
  const shards = await buildShards(ctx, cluster, names, num(r, 'nodes'), hosts, total);
  const comps: Json = await ctx.waitChild(compsJob);
  await ctx.step('cluster_inuse', total, async () => {
    if (ctx.world.cluster(cluster)?.status === 'creating') await ctx.exec({ kind: 'cluster.set_status', cluster, status: 'inuse' });
  });
  return { cluster_id: cluster, cluster_name: ctx.world.cluster(cluster)!.name, shard_ids: shards, comps };
}

/** The two steps of delete_cluster and delete_shard: mark it deleting (so nothing new lands on it),
 *  then uninstall its instances and remove it. */
async function markThenRemove(ctx: JobContext, status: () => string | undefined, mark: Command, remove: () => Promise<void>): Promise<void> {
  await ctx.step('mark_deleting', 2, async () => {
    const now = status();
    if (now !== undefined && now !== 'deleting') await ctx.exec(mark);
  });
  await ctx.step('uninstall_and_remove', 2, remove);
}

async function deleteCluster(ctx: JobContext): Promise<Json> {
  const r = req(ctx);
  const cluster = num(r, 'cluster_id');
  await markThenRemove(ctx, () => ctx.world.cluster(cluster)?.status, { kind: 'cluster.set_status', cluster, status: 'deleting' }, () => teardownCluster(ctx));
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
  await markThenRemove(ctx, () => ctx.world.shard(shard)?.status, { kind: 'shard.set_status', shard, status: 'deleting' }, () => removeShard(ctx, shard));
  return { cluster_id: num(r, 'cluster_id'), shard_id: shard };
}

/** A replica may lag this much and still seed add_nodes' new nodes (the original's allow_delay 15), s. */
const SEED_MAX_DELAY_S = 15;

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
  const total = 5;
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
  // Seeded by a physical copy (rb_shard_node children, as the original's internal_rebuild_hosts): a
  // replica that replayed the binlog from the start would break once the primary purged old binlogs.
  await ctx.step('seed_nodes', total, async () => {
    const kids: number[] = [];
    for (const s of targets) {
      const fresh = newNodes(ctx, s);
      if (fresh.length === 0) continue;
      const src = await chooseSource(ctx, s, new Set(fresh), SEED_MAX_DELAY_S, true);
      for (const id of fresh) {
        const n = ctx.world.node(id)!;
        const rb = { node: id, hostaddr: n.hostaddr, port: n.port, need_backup: 0, pv_limit: ctx.cfg.int('rebuild_pv_limit_mb') };
        kids.push(await ctx.spawnChild(`seed_${id}`, 'rb_shard_node', rbNodeRequest(cluster, s, rb, src.source)));
      }
    }
    await settleAll(kids.map((id) => ctx.waitChild(id)));
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
  await ctx.waitChildren();
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


// ---- definitions ----

/** Every storage and compute instance of a cluster as "ip_port;…;", captured when a delete is accepted. */
function clusterHosts(world: World, cluster: number): { storage_hosts: string; computer_hosts: string } {
  const c = world.cluster(cluster)!;
  return {
    storage_hosts: c.shards.map((sh) => shardHosts(world, sh)).join(''),
    computer_hosts: hostList(c.comps.flatMap((id) => world.comp(id) ?? [])),
  };
}

const HA_MODES = ['mgr', 'rbr', 'no_rep'] as const;
const CREATE_STEPS = ['place_shards', 'start_comps', 'install_storage', 'wire_replication', 'activate_shards', 'cluster_inuse'] as const;
const ADD_SHARDS_STEPS = ['plan', 'place_shards', 'install_storage', 'wire_replication', 'activate_shards'] as const;
/** What a job that adds or removes storage nodes writes (through the projection). */
const SHARD_WRITES = ['shards', 'shard_nodes', 'node_map_master', 'server_nodes', 'cluster_shard_topology', 'mysql_pg_install_log'];
/** delete_shard / delete_node: the shard and the hosts removed (captured when the job was accepted). */
const STORAGE_REMOVED: AttachmentShape = {
  description: 'the shard and the hosts removed from it',
  keys: { storage_state: PART_STATE, shard_id: { type: 'string' }, storage_hosts: HOST_LIST },
  build(job) {
    const r = requestOf(job);
    return { storage_state: jobState(job), shard_id: String(Number(r.shard_id)), storage_hosts: text(r, 'storage_hosts') };
  },
};
const TWO_PARTS = { type: 'string', enum: ['shard,computer'], description: 'labels of shard_step (index 0) and computer_step (index 1)' } as const;
/** What create_cluster and delete_cluster both answer: the two parts and their states. */
const TWO_PART_KEYS = {
  job_steps: TWO_PARTS,
  storage_state: PART_STATE,
  computer_state: PART_STATE,
  shard_id: JOB_ID,
  computer_id: JOB_ID,
} as const;

/** The storage part of create_cluster / add_shards: its shards by name, with their hosts. */
function shardsOf(world: World, cluster: number, names: string[]): { shard_ids: Record<string, string>[]; shard_hosts: Record<string, string>[] } {
  const found = names.flatMap((n) => world.shardByName(cluster, n) ?? []);
  return { shard_ids: found.map((x) => ({ [x.name]: String(x.id) })), shard_hosts: found.map((x) => ({ [x.name]: shardHosts(world, x.id) })) };
}

export const createClusterJob: JobTypeDefinition = {
  kind: 'job',
  name: 'create_cluster',
  role: 'operator',
  sync: false,
  internal: false,
  summary: 'create a cluster: storage shards and compute nodes',
  missingParas: 70070,
  paras: {
    ha_mode: { kind: 'enum', values: ['rbr', 'mgr', 'no_rep'], required: true, missing: 70071, bad: 70071, help: 'replication mode of the shards; only rbr is built on MariaDB storage nodes (mgr and no_rep are refused with the reason)' },
    shards: count(70072, 70073, 'number of shards'),
    nodes: count(70074, 70075, 'storage nodes per shard, primary included'),
    comps: count(70076, 70077, 'compute nodes'),
    max_storage_size: { kind: 'int', ...L.maxStorageSize, required: true, missing: 70078, bad: 70078, help: 'GB, recorded in the cluster memo' },
    max_connections: { kind: 'int', ...L.maxConnections, required: true, missing: 70079, bad: 70079, help: 'recorded in the cluster memo' },
    cpu_cores: { kind: 'int', ...L.cpuCores, required: true, missing: 70080, bad: 70080, help: 'recorded in the cluster memo' },
    innodb_size: { kind: 'int', ...L.innodbSize, required: true, missing: 70081, bad: 70081, range: 70082, help: 'InnoDB buffer pool, MB' },
    dbcfg: { kind: 'int', min: 0, max: 1, def: 0, help: '0 normal, 1 small-memory configuration template' },
    nick_name: nickName,
    computer_user: { ...user, def: 'abc', help: 'superuser created on every compute node' },
    computer_password: { ...password, def: 'abc', help: 'its password' },
    storage_iplists: { kind: 'hostList', bad: 70181, help: 'limit storage placement to these hosts' },
    computer_iplists: { kind: 'hostList', bad: 70182, help: 'limit compute placement to these hosts' },
    fullsync_level: { kind: 'int', min: 0, max: 255, help: 'replica acknowledgements a commit waits for' },
  },
  accept(world, p, e) {
    const haMode = p.oneOf('ha_mode', HA_MODES, { errno: 70071 });
    const unsupported = Object.hasOwn(UNSUPPORTED_HA_MODES, haMode) ? UNSUPPORTED_HA_MODES[haMode] : undefined;
    if (unsupported !== undefined) fail(refuse('invalid_argument', `${haMode} is not supported: ${unsupported}`, 'paras.ha_mode', 70071));
    const shards = p.int('shards');
    const nodes = p.int('nodes');
    const comps = p.int('comps');
    const maxStorageSize = p.int('max_storage_size');
    const maxConnections = p.int('max_connections');
    const cpuCores = p.int('cpu_cores');
    const innodbSize = p.int('innodb_size');
    const dbcfg = p.int('dbcfg');
    const nickName = p.optStr('nick_name', '');
    const user = p.str('computer_user');
    // comp_nodes.passwd holds no more (the spec's limit): a longer one would be a row the projection cannot write.
    const password = p.str('computer_password');
    const storageHosts = p.hostList('storage_iplists', 70181);
    const computerHosts = p.hostList('computer_iplists', 70182);
    registeredHosts(world, storageHosts, 'storage', 'storage_iplists', 70181);
    registeredHosts(world, computerHosts, 'computer', 'computer_iplists', 70182);
    // The cluster row exists from acceptance on (as in the original), so the password is in the log
    // once, marked secret, and a new leader can finish the job after a failover.
    const id = e.ids.take('cluster');
    const name = `cluster_${Math.floor(e.ctx.at / 1000)}_${String(id).padStart(6, '0')}`;
    if (world.clusterByName(name) !== null) fail(refuse('already_exists', `a cluster named ${name} exists`, 'paras'));
    e.emit('cluster.created', `cluster/${id}`, {
      name,
      nickName,
      haMode,
      owner: 'abc',
      business: 'kunlun',
      maxStorageSizeGB: maxStorageSize,
      maxConnections,
      cpuCores,
      innodbSizeMB: innodbSize,
      dbcfg,
      compUser: user,
      compPassword: password,
    });
    return {
      request: {
        cluster_id: id,
        cluster_name: name,
        ha_mode: haMode,
        shards,
        nodes,
        comps,
        max_storage_size: maxStorageSize,
        max_connections: maxConnections,
        cpu_cores: cpuCores,
        innodb_size: innodbSize,
        dbcfg,
        nick_name: nickName,
        computer_user: user,
        storage_iplists: storageHosts,
        computer_iplists: computerHosts,
      },
      cluster: id,
      lock: clusterLock(id),
    };
  },
  steps: CREATE_STEPS,
  run: createCluster,
  rollback: (ctx) => teardownCluster(ctx),
  attachment: {
    description: 'the two parts as XPanel draws them: shard_step[0] (storage, run by this job) and computer_step[0] (the internal_add_comps child job)',
    keys: {
      ...TWO_PART_KEYS,
      shard_step: { type: 'array', items: { type: 'object', properties: { storage_state: PART_STATE, shard_ids: NAMED_IDS, shard_hosts: NAMED_HOSTS, error_info: { type: 'string' } } } },
      computer_step: { type: 'array', items: { type: 'object', properties: { computer_state: PART_STATE, computer_hosts: HOST_LIST, computer_id: JOB_ID, error_info: { type: 'string' } } } },
      shard_error_info: { type: 'string', optional: true, description: 'when the storage part failed' },
      comp_error_info: { type: 'string', optional: true, description: 'when the compute part failed' },
    },
    build(job, world) {
      const r = requestOf(job);
      const cluster = Number(r.cluster_id);
      const child = childJobs(world, job).find((c) => c.jobType === 'internal_add_comps') ?? null;
      const storageState = partState(job, stepBegan(job, 'place_shards'), stepDone(job, 'activate_shards'));
      const computerState = child === null ? partState(job, false, false) : partState(child, true, false);
      const compHosts = hostList(world.compsOf(cluster).flatMap((id) => world.comp(id) ?? []));
      const shardErr = job.status === 'failed' && storageState === 'failed' && child?.status !== 'failed' ? job.errorInfo : '';
      const compErr = child?.status === 'failed' ? child.errorInfo : '';
      return {
        job_steps: 'shard,computer',
        storage_state: storageState,
        computer_state: computerState,
        shard_id: String(job.id),
        computer_id: child === null ? '' : String(child.id),
        shard_step: [{ storage_state: storageState, ...shardsOf(world, cluster, shardNames(Number(r.shards))), error_info: shardErr }],
        computer_step: [{ computer_state: computerState, computer_hosts: compHosts, computer_id: child === null ? '' : String(child.id), error_info: compErr }],
        ...(shardErr !== '' ? { shard_error_info: shardErr } : {}),
        ...(compErr !== '' ? { comp_error_info: compErr } : {}),
      };
    },
  },
  writes: ['db_clusters', 'shards', 'shard_nodes', 'node_map_master', 'comp_nodes', 'comp_nodes_id_seq', 'server_nodes', 'cluster_shard_topology', 'mysql_pg_install_log', 'commit_log_template_table', 'ddl_ops_log_template_table'],
};

export const deleteClusterJob: JobTypeDefinition = {
  kind: 'job',
  name: 'delete_cluster',
  role: 'admin',
  sync: false,
  internal: false,
  summary: 'delete a cluster and everything it runs',
  missingParas: 70095,
  paras: {
    cluster_id: id(70096, 'cluster id', false),
    cluster_name: { kind: 'string', maxLen: STR_LIMITS.clusterName, pattern: /^[A-Za-z0-9_]+$/, patternHelp: 'a cluster name', missing: 70096, bad: 70097 },
    nick_name: nickName,
  },
  accept(world, p) {
    let id: number;
    if (p.has('cluster_id')) id = clusterById(world, p, 'cluster_id', 70098, 70096);
    else if (p.has('cluster_name')) {
      const name = p.str('cluster_name', { errno: 70096 });
      const c = world.clusterByName(name);
      if (c === null) fail(refuse('not_found', `cluster ${name} does not exist`, 'paras.cluster_name', 70097));
      id = c.id;
    } else return fail(refuse('invalid_argument', 'cluster_id or cluster_name is required', 'paras.cluster_id', 70096));
    // What is deleted, kept for get_status after the instances are gone.
    return { request: { cluster_id: id, cluster_name: world.cluster(id)!.name, ...clusterHosts(world, id) }, cluster: id, lock: clusterLock(id) };
  },
  steps: ['mark_deleting', 'uninstall_and_remove'],
  run: deleteCluster,
  attachment: {
    description: 'the two parts as XPanel draws them, both run by this job: shard_step[0] (storage) and computer_step[0] (compute)',
    keys: {
      ...TWO_PART_KEYS,
      shard_step: { type: 'array', items: { type: 'object', properties: { storage_state: PART_STATE, storage_hosts: HOST_LIST, error_info: { type: 'string' } } } },
      computer_step: { type: 'array', items: { type: 'object', properties: { computer_state: PART_STATE, computer_hosts: HOST_LIST, computer_id: JOB_ID, error_info: { type: 'string' } } } },
    },
    build(job) {
      const r = requestOf(job);
      const state = partState(job, stepBegan(job, 'uninstall_and_remove'), false);
      const err = job.status === 'failed' ? job.errorInfo : '';
      return {
        job_steps: 'shard,computer',
        storage_state: state,
        computer_state: state,
        shard_id: String(job.id),
        computer_id: String(job.id),
        shard_step: [{ storage_state: state, storage_hosts: text(r, 'storage_hosts'), error_info: err }],
        computer_step: [{ computer_state: state, computer_hosts: text(r, 'computer_hosts'), computer_id: String(job.id), error_info: err }],
      };
    },
  },
  writes: ['db_clusters', 'shards', 'shard_nodes', 'node_map_master', 'comp_nodes', 'server_nodes', 'cluster_shard_topology', 'mysql_pg_install_log', 'commit_log_template_table', 'ddl_ops_log_template_table'],
};

export const addShardsJob: JobTypeDefinition = {
  kind: 'job',
  name: 'add_shards',
  role: 'operator',
  sync: false,
  internal: false,
  summary: 'add shards to a cluster',
  missingParas: 70118,
  paras: { cluster_id: id(70119, 'cluster id'), shards: count(70120, 70121, 'number of new shards'), nodes: count(70122, 70123, 'nodes per shard'), storage_iplists: { kind: 'hostList', bad: 70184 }, nick_name: nickName },
  accept(world, p) {
    const cluster = clusterById(world, p, 'cluster_id', 70119);
    const hosts = p.hostList('storage_iplists', 70184);
    registeredHosts(world, hosts, 'storage', 'storage_iplists', 70184);
    return { request: { cluster_id: cluster, shards: p.int('shards'), nodes: p.int('nodes'), storage_iplists: hosts }, cluster, lock: clusterLock(cluster) };
  },
  steps: ADD_SHARDS_STEPS,
  run: addShards,
  rollback: addShardsRollback,
  attachment: {
    description: 'the new shards by name with their ids and hosts',
    keys: { storage_state: PART_STATE, shard_ids: NAMED_IDS, shard_hosts: NAMED_HOSTS },
    build(job, world) {
      const r = requestOf(job);
      const plan = job.steps.find((x) => x.step === 'plan' && x.ok);
      const names = plan === undefined ? [] : namesFrom(Number(plan.info), Number(r.shards));
      return { storage_state: partState(job, stepBegan(job, 'place_shards'), stepDone(job, 'activate_shards')), ...shardsOf(world, Number(r.cluster_id), names) };
    },
  },
  writes: SHARD_WRITES,
};

export const deleteShardJob: JobTypeDefinition = {
  kind: 'job',
  name: 'delete_shard',
  role: 'admin',
  sync: false,
  internal: false,
  summary: 'delete a shard (a cluster keeps at least one)',
  missingParas: 70138,
  paras: { cluster_id: id(70139, 'cluster id'), shard_id: id(70140, 'shard id'), nick_name: nickName },
  accept(world, p) {
    const cluster = clusterById(world, p, 'cluster_id', 70139);
    const shard = shardIn(world, p, cluster, 'shard_id', 70140);
    if (world.shardsOf(cluster).length <= 1) {
      fail(refuse('last_one', `shard ${shard} is the last shard of cluster ${cluster}`, 'paras.shard_id', 70174));
    }
    return { request: { cluster_id: cluster, shard_id: shard, storage_hosts: shardHosts(world, shard) }, cluster, lock: clusterLock(cluster) };
  },
  steps: ['mark_deleting', 'uninstall_and_remove'],
  run: deleteShard,
  attachment: STORAGE_REMOVED,
  writes: SHARD_WRITES,
};

/** add_nodes' per-shard state: the original's Node_State (N_PREPARE 0 … N_ROLLBACK 4, N_DONE 5, N_FAILED 6). */
function nodeState(job: JobView): number {
  if (job.status === 'done') return 5;
  if (job.status === 'failed') return 6;
  if (stepBegan(job, 'rollback') || stepBegan(job, 'failed')) return 4;
  // N_SREBUILD while the new nodes are seeded by copy, N_DREBUILD once they are wired.
  if (stepBegan(job, 'wire_nodes')) return 3;
  if (stepBegan(job, 'seed_nodes')) return 2;
  return stepBegan(job, 'install_nodes') ? 1 : 0;
}

export const addNodesJob: JobTypeDefinition = {
  kind: 'job',
  name: 'add_nodes',
  role: 'operator',
  sync: false,
  internal: false,
  summary: 'add replicas to one shard or to every shard of a cluster',
  missingParas: 70153,
  paras: {
    cluster_id: clusterRef(70154, 'cluster id'),
    shard_id: clusterRef(70161, 'shard id (every shard of the cluster when absent)', false),
    nodes: count(70155, 70156, 'new nodes per shard'),
    storage_iplists: { kind: 'hostList', bad: 70183 },
    nick_name: nickName,
  },
  accept(world, p) {
    const cluster = clusterById(world, p, 'cluster_id', 70154);
    const nodes = p.int('nodes');
    const shard = p.has('shard_id') ? shardIn(world, p, cluster, 'shard_id', 70161) : null;
    if (shard === null && world.shardsOf(cluster).length === 0) {
      fail(refuse('not_found', `cluster ${cluster} has no shards`, 'paras.cluster_id', 70161));
    }
    const hosts = p.hostList('storage_iplists', 70183);
    registeredHosts(world, hosts, 'storage', 'storage_iplists', 70183);
    return { request: { cluster_id: cluster, shard_id: shard, nodes, storage_iplists: hosts }, cluster, lock: clusterLock(cluster) };
  },
  steps: ['place_nodes', 'install_nodes', 'seed_nodes', 'wire_nodes', 'activate_nodes'],
  run: addNodes,
  rollback: addNodesRollback,
  attachment: {
    description: 'per target shard (keyed by shard id): the new nodes and their state',
    keys: {
      storage_state: PART_STATE,
      shard_hosts: NAMED_HOSTS,
      shard_state: { type: 'array', items: { type: 'object', additionalProperties: { type: 'integer' } }, description: '[{<shard id>: Node_State 0..6}]' },
    },
    build(job, world) {
      const r = requestOf(job);
      const res = requestOf({ ...job, request: job.result });
      const added = Array.isArray(res.nodes) ? (res.nodes as { shard_id: number; hostaddr: string; port: number }[]) : null;
      const targets = typeof r.shard_id === 'number' ? [r.shard_id] : world.shardsOf(Number(r.cluster_id));
      const hostsOf = (s: number): string =>
        hostList(added !== null ? added.filter((n) => n.shard_id === s) : world.nodesOf(s).flatMap((id) => (world.node(id)?.status === 'creating' ? [world.node(id)!] : [])));
      const st = nodeState(job);
      return {
        storage_state: jobState(job),
        shard_hosts: targets.map((s) => ({ [String(s)]: hostsOf(s) })),
        shard_state: targets.map((s) => ({ [String(s)]: st })),
      };
    },
  },
  writes: SHARD_WRITES,
};

export const deleteNodeJob: JobTypeDefinition = {
  kind: 'job',
  name: 'delete_node',
  role: 'admin',
  sync: false,
  internal: false,
  summary: 'delete a replica from a shard',
  missingParas: 70167,
  paras: {
    cluster_id: clusterRef(70168, 'cluster id'),
    shard_id: clusterRef(70169, 'shard id'),
    hostaddr: { kind: 'host', required: true, missing: 70170 },
    port: { kind: 'int', ...L.port, required: true, missing: 70171, bad: 70171 },
    nick_name: nickName,
  },
  accept(world, p) {
    const cluster = clusterById(world, p, 'cluster_id', 70168);
    const shard = shardIn(world, p, cluster, 'shard_id', 70169);
    const host = p.host('hostaddr', 70170);
    const port = p.int('port');
    const node = nodeAt(world, shard, host, port, 'paras.hostaddr', 70173);
    if (world.nodesOf(shard).length <= 1) fail(refuse('last_one', `node ${node} is the last node of shard ${shard}`, 'paras.hostaddr', 70159));
    if (world.primaryOf(shard) === node) {
      fail(refuse('invalid_state', `${host}:${port} is the primary of shard ${shard}`, 'paras.hostaddr', 70172));
    }
    return { request: { cluster_id: cluster, shard_id: shard, hostaddr: host, port, node_id: node, storage_hosts: hostList([{ hostaddr: host, port }]) }, cluster, lock: clusterLock(cluster) };
  },
  steps: ['uninstall_node', 'remove_node'],
  run: deleteNode,
  attachment: STORAGE_REMOVED,
  writes: SHARD_WRITES,
};
