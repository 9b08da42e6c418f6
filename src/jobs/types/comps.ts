// Compute-node jobs: add_comps and delete_comp (cluster_mgr-api.md §3.5, §3.6), and the functions
// create_cluster uses for its compute nodes:
//
//   createComps(ctx, cluster, count, hosts, opts?: { prefix?: string; total?: number })
//       => Promise<{ comp_ids: number[]; computer_hosts: string }>
//     Creates `count` compute nodes of `cluster` on the listed computer machines (all registered ones
//     when `hosts` is empty). Call it directly from a handler, NOT inside ctx.step: it records its own
//     steps `<prefix>mark|record|install|user|topology|activate` (prefix default "comps_"), each
//     idempotent, so a new leader resumes it. Throws JobError 70115 (no free slots) or 70148 (install).
//   rollbackComps(ctx, cluster, opts?: { prefix?: string })
//     Undoes what createComps(prefix) created (uninstall via the agent, then comp.delete); for a
//     rollback hook (which the engine already runs as a step). The last comp of a cluster that is not
//     `deleting` cannot be removed from the world (comp.delete refuses): it is uninstalled and left
//     `inactive`; create_cluster's own rollback deletes the cluster, which removes it.
//
// Order, so a failure or a leader change at any point leaves nothing unaccounted: the comps are
// recorded (comp.add, status `creating`) before anything is installed; which comps are this job's is
// known from the comp id counter saved in the first step (the cluster lock keeps other jobs out).
import type { CompView, World } from '../../actors/index.js';
import type { Json } from '../../events/schema.js';
import {
  compTopology,
  ensureClusterUser,
  ensureCompInstalled,
  ensureCompUninstalled,
  instanceOn,
  placeComps,
  syncCompTopology,
  type Slot,
  withComp,
} from '../../compute/index.js';
import { JobError, type JobContext } from '../engine.js';
import { refuse } from '../../actors/commands/common.js';
import type { AttachmentShape, JobTypeDefinition } from '../definition.js';
import { count, id, nickName } from './paras.js';
import { clusterById, clusterLock, fail, registeredHosts } from './world-checks.js';
import { HOST_LIST, hostList, JOB_ID, jobState, PART_STATE, partState, requestOf, stepBegan, stepDone, text } from './xpanel.js';
import { num, req, strList } from '../handlers/request.js';
import { installMovingOn, refusedSlots } from '../port-moves.js';

/** The original's error numbers. */
export const E_COMP_NO_PLACE = 70115;
export const E_COMP_INSTALL = 70148;
export const E_COMP_POST = 70150;
export const E_COMP_UNINSTALL = 70136;
export const E_COMP_DELETE = 70137;

/** A node just installed (or restarted by its keepalive) may refuse connections for a moment. */
const CONNECT_ATTEMPTS = 10;

const STEPS = ['mark', 'record', 'install', 'user', 'topology', 'activate'] as const;

export interface CompsOptions {
  prefix?: string;
  /** Steps of the whole job, for progress (default: these six). */
  total?: number;
}

interface Secret {
  user: string;
  password: string;
}

function secretOf(ctx: JobContext, cluster: number): Secret {
  const s = ctx.world.clusterSecret(cluster);
  if (s === null) throw new JobError(70111, `cluster ${cluster} does not exist`);
  if (s.user === null || s.password === null) throw new JobError(70113, `cluster ${cluster} has no compute-node credentials`);
  return { user: s.user, password: s.password };
}

/** This job's comps of `cluster`: ids handed out since the mark. */
function ours(world: World, cluster: number, first: number): CompView[] {
  return world
    .compsOf(cluster)
    .filter((id) => id >= first)
    .map((id) => world.comp(id)!)
    .filter((c) => c !== null);
}

function recordedMark(ctx: JobContext, prefix: string): number | null {
  const s = ctx.job.steps.find((x) => x.step === `${prefix}mark` && x.ok);
  const v = s === undefined ? NaN : Number(s.info);
  return Number.isSafeInteger(v) ? v : null;
}

const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Runs fn on every comp at once; all errors together in one JobError. */
async function eachComp(comps: CompView[], code: number, what: string, fn: (c: CompView) => Promise<unknown>): Promise<void> {
  const res = await Promise.allSettled(comps.map(fn));
  const bad = res.flatMap((r, i) => (r.status === 'rejected' ? [`${comps[i]!.hostaddr}_${comps[i]!.port}: ${msg(r.reason)}`] : []));
  if (bad.length > 0) throw new JobError(code, `${what} failed: ${bad.join(';|')}`.slice(0, 1000));
}

export async function createComps(
  ctx: JobContext,
  cluster: number,
  count: number,
  hosts: string[],
  opts: CompsOptions = {},
): Promise<{ comp_ids: number[]; computer_hosts: string }> {
  const p = opts.prefix ?? 'comps_';
  const total = opts.total ?? STEPS.length;
  const secret = secretOf(ctx, cluster);
  const first = await ctx.step(`${p}mark`, total, () => Promise.resolve(ctx.world.next.comp));

  await ctx.step(`${p}record`, total, async () => {
    // Recorded before anything is installed: a leader dying after this has the comps to finish or undo.
    let lostRaces = 0;
    for (let have = ours(ctx.world, cluster, first).length; have < count; have = ours(ctx.world, cluster, first).length) {
      const slot = placeComps(ctx.world, hosts, 1, refusedSlots(ctx.job))?.[0];
      if (slot === undefined) {
        throw new JobError(E_COMP_NO_PLACE, `not enough free compute-node ports on ${hosts.length > 0 ? hosts.join(',') : 'the computer machines'} for ${count - have} more compute node(s)`);
      }
      try {
        await ctx.exec({ kind: 'comp.add', cluster, hostaddr: slot.hostaddr, port: slot.port });
      } catch (e) {
        // Another cluster's job took the slot between placing and recording: place again.
        if (!(e instanceof JobError) || ctx.world.nodeAt(slot.hostaddr, slot.port) === null || ++lostRaces > 5) throw e;
      }
    }
    return count;
  });
  const comps = (): CompView[] => ours(ctx.world, cluster, first);
  const CONNECT = { signal: ctx.signal, attempts: CONNECT_ATTEMPTS };

  await ctx.step(`${p}install`, total, async () => {
    const done: string[] = [];
    await eachComp(comps(), E_COMP_INSTALL, 'install_postgres', async (c) => {
      // A port its agent cannot bind moves the comp to the next free one of its machine.
      const movable = { agg: `comp/${c.id}` as const, at: () => ctx.world.comp(c.id), nextPort: (host: string, taken: Slot[]) => placeComps(ctx.world, [host], 1, taken)?.[0]?.port ?? null };
      const r = await installMovingOn(ctx, movable, E_COMP_INSTALL, (at) =>
        ensureCompInstalled(ctx.agent(at.hostaddr), { id: c.id, hostaddr: at.hostaddr, port: at.port, ...secret }, { signal: ctx.signal, requestId: String(ctx.job.id) }),
      );
      if (r === 'installed') done.push(String(c.id));
      ctx.log.info({ comp: c.id, at: `${ctx.world.comp(c.id)?.hostaddr}:${ctx.world.comp(c.id)?.port}`, result: r }, 'compute node installed');
    });
    return done.length;
  });

  await ctx.step(`${p}user`, total, async () => {
    await eachComp(comps(), E_COMP_POST, 'creating the cluster user', (c) =>
      withComp({ host: c.hostaddr, port: c.port, ...secret }, (pg) => ensureClusterUser(pg, secret.user, secret.password), CONNECT),
    );
  });

  await ctx.step(`${p}topology`, total, async () => {
    const storageUser = ctx.cfg.str('meta_user');
    await eachComp(comps(), E_COMP_POST, 'writing the shard topology', async (c) => {
      const want = compTopology(ctx.world, c.id, storageUser);
      if (want === null) throw new Error(`compute node ${c.id} is no longer in the world`);
      const applied = ctx.world.applied;
      const r = await withComp({ host: c.hostaddr, port: c.port, ...secret }, (pg) => syncCompTopology(pg, want, { term: ctx.term, applied }), CONNECT);
      // Stale within our own term: the reconciler already wrote a newer index, which is fine.
      if (r.status === 'stale' && (r.found?.term ?? 0) > ctx.term) throw new Error(`a newer leader (term ${r.found?.term}) has written this node's topology`);
    });
  });

  await ctx.step(`${p}activate`, total, async () => {
    for (const c of comps()) if (c.status !== 'active') await ctx.exec({ kind: 'comp.set_status', comp: c.id, status: 'active' });
  });
  const list = comps();
  return { comp_ids: list.map((c) => c.id), computer_hosts: list.map((c) => `${c.hostaddr}_${c.port}`).join(';') };
}

/** Uninstalls one comp through its agent, then removes it from the world (or leaves it inactive if it is the cluster's last). */
async function removeComp(ctx: JobContext, c: CompView, code: number): Promise<void> {
  try {
    await ensureCompUninstalled(ctx.agent(c.hostaddr), c, { signal: ctx.signal, requestId: String(ctx.job.id) });
  } catch (e) {
    if (ctx.signal.aborted) throw e;
    throw new JobError(code, `uninstall_postgres of compute node ${c.id} (${c.hostaddr}_${c.port}) failed: ${msg(e)}`, { cause: e });
  }
  const cl = ctx.world.cluster(c.cluster);
  if (ctx.world.comp(c.id) === null) return;
  if (cl !== null && cl.status !== 'deleting' && cl.comps.length <= 1) {
    if (c.status !== 'inactive') await ctx.exec({ kind: 'comp.set_status', comp: c.id, status: 'inactive' });
    ctx.log.warn({ comp: c.id }, 'the last compute node of the cluster is uninstalled and left inactive');
    return;
  }
  await ctx.exec({ kind: 'comp.delete', comp: c.id });
}

export async function rollbackComps(ctx: JobContext, cluster: number, opts: { prefix?: string } = {}): Promise<void> {
  const first = recordedMark(ctx, opts.prefix ?? 'comps_');
  if (first === null) return; // nothing was recorded, so nothing was created
  const comps = ours(ctx.world, cluster, first);
  const errors: string[] = [];
  // One after another: the "last comp" rule depends on how many are left.
  for (const c of comps) {
    try {
      await removeComp(ctx, c, E_COMP_UNINSTALL);
    } catch (e) {
      if (ctx.signal.aborted || !(e instanceof JobError)) throw e;
      errors.push(e.info);
    }
  }
  if (errors.length > 0) throw new JobError(E_COMP_UNINSTALL, errors.join(';|').slice(0, 1000));
}

async function addComps(ctx: JobContext): Promise<Json> {
  const r = req(ctx);
  const cluster = num(r, 'cluster_id');
  const res = await createComps(ctx, cluster, num(r, 'comps'), strList(r, 'computer_iplists'));
  return { cluster_id: cluster, ...res };
}

async function deleteComp(ctx: JobContext): Promise<Json> {
  const r = req(ctx);
  const cluster = num(r, 'cluster_id');
  const id = num(r, 'comp_id');
  const c = ctx.world.comp(id);
  const at = c === null ? '' : `${c.hostaddr}_${c.port}`;
  await ctx.step('deactivate', 3, async () => {
    // Out of the topology reconciler's hands first: it writes only active comps.
    const cur = ctx.world.comp(id);
    if (cur !== null && cur.status === 'active') await ctx.exec({ kind: 'comp.set_status', comp: id, status: 'inactive' });
  });
  await ctx.step('uninstall', 3, async () => {
    const cur = ctx.world.comp(id);
    if (cur === null) return 'already removed';
    try {
      return await ensureCompUninstalled(ctx.agent(cur.hostaddr), cur, { signal: ctx.signal, requestId: String(ctx.job.id) });
    } catch (e) {
      if (ctx.signal.aborted) throw e;
      throw new JobError(E_COMP_UNINSTALL, `uninstall_postgres of ${cur.hostaddr}_${cur.port} failed: ${msg(e)}`, { cause: e });
    }
  });
  await ctx.step('remove', 3, async () => {
    if (ctx.world.comp(id) !== null) await ctx.exec({ kind: 'comp.delete', comp: id });
  });
  return { cluster_id: cluster, comp_id: id, computer_hosts: at };
}

// ---- definitions ----

const COMPS_STEPS = STEPS.map((x) => `comps_${x}`);

/** add_comps' rollback, for the user's type and create_cluster's internal child. */
const addCompsRollback = (ctx: JobContext): Promise<void> => rollbackComps(ctx, num(req(ctx), 'cluster_id'));

const COMPS_ATTACHMENT: AttachmentShape = {
  description: 'the new compute nodes; computer_id is this job (the install log rows name it)',
  keys: { computer_state: PART_STATE, computer_hosts: HOST_LIST, computer_id: JOB_ID },
  build(job, world) {
    const r = requestOf(job);
    const mark = job.steps.find((x) => x.step === 'comps_mark' && x.ok);
    const first = mark === undefined ? NaN : Number(mark.info);
    const comps = Number.isSafeInteger(first) ? ours(world, Number(r.cluster_id), first) : [];
    return { computer_state: partState(job, stepBegan(job, 'comps_install'), stepDone(job, 'comps_activate')), computer_hosts: hostList(comps), computer_id: String(job.id) };
  },
};

const COMPS_WRITES = ['comp_nodes', 'comp_nodes_id_seq', 'server_nodes', 'commit_log_template_table', 'mysql_pg_install_log'];

export const addCompsJob: JobTypeDefinition = {
  kind: 'job',
  name: 'add_comps',
  role: 'operator',
  sync: false,
  internal: false,
  summary: 'add compute nodes to a cluster',
  missingParas: 70107,
  paras: { cluster_id: id(70109, 'cluster id'), comps: count(70108, 70110, 'number of new compute nodes'), computer_iplists: { kind: 'hostList', bad: 70185 }, nick_name: nickName },
  accept(world, p) {
    const cluster = clusterById(world, p, 'cluster_id', 70109);
    const hosts = p.hostList('computer_iplists', 70185);
    registeredHosts(world, hosts, 'computer', 'computer_iplists', 70185);
    return { request: { cluster_id: cluster, comps: p.int('comps'), computer_iplists: hosts }, cluster, lock: clusterLock(cluster) };
  },
  steps: COMPS_STEPS,
  run: addComps,
  rollback: addCompsRollback,
  attachment: COMPS_ATTACHMENT,
  writes: COMPS_WRITES,
};

/** create_cluster's child, logged under the original's internal type (user_name internal_user). */
export const internalAddCompsJob: JobTypeDefinition = {
  ...addCompsJob,
  name: 'internal_add_comps',
  role: 'operator',
  internal: true,
  summary: "create_cluster's compute nodes (a child job; no route)",
  accept: undefined,
};

export const deleteCompJob: JobTypeDefinition = {
  kind: 'job',
  name: 'delete_comp',
  role: 'admin',
  sync: false,
  internal: false,
  summary: 'delete a compute node (a cluster keeps at least one)',
  missingParas: 70131,
  paras: { cluster_id: id(70132, 'cluster id'), comp_id: id(70133, 'compute node id'), nick_name: nickName },
  accept(world, p) {
    const cluster = clusterById(world, p, 'cluster_id', 70132);
    const comp = p.int('comp_id', { min: 1, errno: 70133 });
    const c = world.comp(comp);
    if (c?.cluster !== cluster) fail(refuse('not_found', `compute node ${comp} is not in cluster ${cluster}`, 'paras.comp_id', 70134));
    if (world.compsOf(cluster).length <= 1) {
      fail(refuse('last_one', `compute node ${comp} is the last one of cluster ${cluster}`, 'paras.comp_id', 70157));
    }
    return { request: { cluster_id: cluster, comp_id: comp, computer_hosts: hostList([c]) }, cluster, lock: clusterLock(cluster) };
  },
  steps: ['deactivate', 'uninstall', 'remove'],
  run: deleteComp,
  // A failed uninstall: a node that still runs goes back into service (and gets topology updates again).
  rollback: async (ctx) => {
    const c = ctx.world.comp(num(req(ctx), 'comp_id'));
    if (c === null || c.status !== 'inactive') return;
    const inst = await instanceOn(ctx.agent(c.hostaddr), c.port).catch(() => null);
    if (inst?.status === 'running') await ctx.exec({ kind: 'comp.set_status', comp: c.id, status: 'active' });
  },
  attachment: {
    description: 'the compute node deleted; computer_id is this job',
    keys: { computer_state: PART_STATE, computer_hosts: HOST_LIST, computer_id: JOB_ID },
    build(job) {
      const r = requestOf(job);
      return { computer_state: jobState(job), computer_hosts: text(r, 'computer_hosts'), computer_id: String(job.id) };
    },
  },
  writes: ['comp_nodes', 'server_nodes', 'commit_log_template_table', 'mysql_pg_install_log'],
};
