// raft_mission (cluster_mgr-api.md §3.19): the manager group itself. Every step first reads the real
// Raft configuration (node.status().conf) and the world, so a new leader that reruns it (after a
// transfer, or a dead leader) does only what is left.
// * transfer_leader: hands Raft leadership to the target. The old leader loses leadership before it
//   can finish the job; the target, now leader, resumes the job, sees it leads and finishes it.
// * add_peer: manager.add (the address every member then dials), the member joins as a learner,
//   catches up, and is promoted to voter. Membership is in the log and snapshots: it survives restarts.
// * remove_peer: a leader removing itself hands leadership over first; then the configuration change
//   and manager.remove.
import type { Json } from '../../events/schema.js';
import type { ConfChange } from '../../raft/types.js';
import { JobError, type JobContext } from '../engine.js';
import { refuse } from '../../actors/commands/common.js';
import { INT_LIMITS as L } from '../../actors/commands/para-limits.js';
import type { ParaReader } from '../../actors/commands/paras.js';
import type { AcceptedJob } from '../../actors/index.js';
import type { JobTypeDefinition } from '../definition.js';
import { port } from './paras.js';
import { fail } from './world-checks.js';
import { checkLeading, sleepWhileLeading } from '../../reconcile/host.js';
import { optNum, req, str } from '../handlers/request.js';

/** Error numbers of the original's raft_mission range (70195-70201). */
const E_NOT_VOTER = 70195;
const E_CATCH_UP = 70196;

const CATCH_UP_MS = 60_000;

function conf(ctx: JobContext): { voters: string[]; learners: string[] } {
  return ctx.raft.status().conf;
}

function splitId(id: string): { host: string; port: number } {
  const i = id.lastIndexOf(':');
  return { host: id.slice(0, i), port: Number(id.slice(i + 1)) };
}

/** Hands leadership to `to`; resolves on the old leader once `to` leads (this member then stops
 *  running the job: its leadership signal is aborted). */
async function transferTo(ctx: JobContext, to: string): Promise<void> {
  if (!conf(ctx).voters.includes(to)) throw new JobError(E_NOT_VOTER, `${to} is not a voting member of the Raft group`);
  try {
    await ctx.raft.transferLeadership(to);
  } catch (e) {
    if (ctx.signal.aborted) throw e;
    // Not a JobError: the engine retries (a few times) — the target may be catching up.
    throw new Error(`leadership transfer to ${to} did not complete: ${(e as Error).message}`, { cause: e });
  }
}

async function changeConf(ctx: JobContext, cc: ConfChange): Promise<void> {
  try {
    await ctx.raft.proposeConfChange(cc);
  } catch (e) {
    throw new Error(`configuration change ${cc.type} ${cc.member} failed: ${(e as Error).message}`, { cause: e });
  }
}

async function transferLeader(ctx: JobContext): Promise<Json> {
  const target = str(req(ctx), 'target_leader');
  await ctx.step('transfer_leader', 1, async () => {
    const node = ctx.raft;
    // On the target (the job resumed after the transfer), or a target already leading: nothing to do.
    if (node.isLeader && ctx.cfg.selfId === target) return { leader: target };
    await transferTo(ctx, target);
    return { leader: target };
  });
  return { leader: target };
}

async function addPeer(ctx: JobContext): Promise<Json> {
  const r = req(ctx);
  const peer = str(r, 'peer');
  const { host, port } = splitId(peer);
  const httpPort = optNum(r, 'http_port') ?? ctx.cfg.int('brpc_http_port');
  await ctx.step('record_member', 4, async () => {
    if (ctx.world.manager(peer) !== null) return;
    await ctx.exec({ kind: 'manager.add', id: peer, host, raftPort: port, httpPort, prometheusPort: httpPort });
  });
  // The address is also set by the runtime when it applies manager.member_added; set it here as well
  // so the change below never waits for that.
  ctx.raft.setPeerAddress(peer, { host, port });
  await ctx.step('add_learner', 4, async () => {
    const c = conf(ctx);
    if (c.voters.includes(peer) || c.learners.includes(peer)) return;
    await changeConf(ctx, { type: 'addLearner', member: peer });
  });
  await ctx.step('catch_up', 4, async () => {
    if (conf(ctx).voters.includes(peer)) return;
    const end = Date.now() + CATCH_UP_MS;
    for (;;) {
      const st = ctx.raft.status();
      const match = st.progress?.[peer]?.match ?? 0;
      if (match >= st.commit) return { match };
      if (Date.now() > end) throw new JobError(E_CATCH_UP, `${peer} did not catch up within ${CATCH_UP_MS} ms (at ${match} of ${st.commit}); is it running with raft_join = true?`);
      await sleepWhileLeading(100, ctx.signal);
      checkLeading(ctx.signal);
    }
  });
  await ctx.step('promote_voter', 4, async () => {
    if (conf(ctx).voters.includes(peer)) return;
    await changeConf(ctx, { type: 'addVoter', member: peer });
  });
  return { peer, conf: conf(ctx) };
}

async function removePeer(ctx: JobContext): Promise<Json> {
  const peer = str(req(ctx), 'peer');
  const c0 = conf(ctx);
  const self = peer === ctx.cfg.selfId && (c0.voters.includes(peer) || c0.learners.includes(peer));
  if (self || ctx.job.step?.name === 'hand_over') {
    // A leader does not remove itself: it hands over, and the new leader resumes the job here.
    await ctx.step('hand_over', 3, async () => {
      if (!self) return;
      const st = ctx.raft.status();
      const others = st.conf.voters.filter((v) => v !== peer);
      if (others.length === 0) throw new JobError(E_NOT_VOTER, `${peer} is the only voter`);
      others.sort((a, b) => (st.progress?.[b]?.match ?? 0) - (st.progress?.[a]?.match ?? 0));
      await transferTo(ctx, others[0]!);
    });
  }
  await ctx.step('remove_from_raft', 3, async () => {
    const c = conf(ctx);
    if (!c.voters.includes(peer) && !c.learners.includes(peer)) return;
    await changeConf(ctx, { type: 'removeMember', member: peer });
  });
  await ctx.step('record_removal', 3, async () => {
    if (ctx.world.manager(peer) === null) return;
    await ctx.exec({ kind: 'manager.remove', id: peer });
  });
  return { peer, conf: conf(ctx) };
}

async function raftMission(ctx: JobContext): Promise<Json> {
  const task = str(req(ctx), 'task_type');
  switch (task) {
    case 'transfer_leader':
      return transferLeader(ctx);
    case 'add_peer':
      return addPeer(ctx);
    case 'remove_peer':
      return removePeer(ctx);
    default:
      throw new JobError(70191, `unknown task_type ${task}`);
  }
}

// ---- definition ----

/** One raft_mission at a time in the manager group. */
export const MANAGER_GROUP_LOCK = 'manager/group';
const HOST_PORT = /^([A-Za-z0-9.-]+):(\d{1,5})$/;

/** "host:port" of a raft_mission para: the host and a port in range. */
function peerAddress(p: ParaReader, key: string, errno: number): { host: string; port: number } {
  const v = p.str(key, { errno, max: 300 });
  const m = HOST_PORT.exec(v);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || !(port >= L.port.min && port <= L.port.max)) fail(refuse('invalid_argument', 'must be "host:raft_port"', `paras.${key}`, errno));
  return { host: m[1]!, port };
}

export const raftMissionJob: JobTypeDefinition = {
  kind: 'job',
  name: 'raft_mission',
  role: 'admin',
  sync: false,
  internal: false,
  summary: 'manager group: transfer leadership, add or remove a member',
  missingParas: 70189,
  paras: {
    task_type: { kind: 'enum', values: ['transfer_leader', 'add_peer', 'remove_peer'], required: true, missing: 70190, bad: 70191 },
    target_leader: { kind: 'string', maxLen: 300, pattern: /^[A-Za-z0-9.:-]+:\d{1,5}$/, patternHelp: '"host:port" (Raft or HTTP port of a member)', missing: 70192, bad: 70192, help: 'transfer_leader: the member to lead; 70193 when it is not a member' },
    peer: { kind: 'string', maxLen: 300, pattern: /^[A-Za-z0-9.:-]+:\d{1,5}$/, patternHelp: '"host:raft_port"', missing: 70194, bad: 70194, help: 'add_peer: the new member (70197 when already one); remove_peer: the member to remove (70198 when not one)' },
    http_port: { ...port, bad: 70194, help: "add_peer: HTTP port of the new member; this member's brpc_http_port when absent" },
  },
  accept(world, p): AcceptedJob {
    const task = p.oneOf('task_type', ['transfer_leader', 'add_peer', 'remove_peer'] as const, { errno: 70190, rangeErrno: 70191 });
    const members = world.ids('manager').map((id) => world.manager(id)!);
    const lock = MANAGER_GROUP_LOCK;
    if (task === 'transfer_leader') {
      // The Raft port names a member (as in the original); its HTTP port is accepted too.
      const a = peerAddress(p, 'target_leader', 70192);
      const m = members.find((x) => x.host === a.host && x.raftPort === a.port) ?? members.find((x) => x.host === a.host && x.httpPort === a.port);
      if (m === undefined) fail(refuse('not_found', `${a.host}:${a.port} is not a member of the manager group`, 'paras.target_leader', 70193));
      return { request: { task_type: task, target_leader: m.id }, cluster: null, lock };
    }
    const a = peerAddress(p, 'peer', 70194);
    const id = `${a.host}:${a.port}`;
    const m = members.find((x) => x.host === a.host && x.raftPort === a.port);
    if (task === 'add_peer') {
      if (m !== undefined) fail(refuse('already_exists', `${id} is already a member of the manager group`, 'paras.peer', 70197));
      const httpPort = p.has('http_port') ? p.int('http_port') : null;
      return { request: { task_type: task, peer: id, http_port: httpPort }, cluster: null, lock };
    }
    if (m === undefined) fail(refuse('not_found', `${id} is not a member of the manager group`, 'paras.peer', 70198));
    if (members.length <= 1) fail(refuse('last_one', `${id} is the last member of the manager group`, 'paras.peer', 70198));
    return { request: { task_type: task, peer: m.id }, cluster: null, lock };
  },
  steps: ['transfer_leader', 'record_member', 'add_learner', 'catch_up', 'promote_voter', 'hand_over', 'remove_from_raft', 'record_removal'],
  run: raftMission,
  attachment: { description: 'XPanel reads only the top-level status and error_info; the result names the leader or the peer and the new configuration', keys: {} },
  writes: ['cluster_mgr_nodes'],
};
