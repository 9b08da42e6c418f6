// raft_mission on real member processes: bad paras are refused with the original's numbers;
// transfer_leader through Emit moves leadership and the job ends (on the new leader) done; a 4th
// process started with raft_join = true is added with add_peer, catches up and applies the same log;
// a restarted original member knows it from the log; remove_peer takes it out again (it leads then:
// it hands over first) and the 3 members still commit.
import t from 'tap';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeRunDir } from '../../src/launcher/index.js';
import { freePort } from '../../src/launcher/ports.js';
import { MemberGroup, waitFor, type MemberProc } from '../helpers/member-group.js';

interface Member {
  member: string;
  role: string;
  term: number;
  leader: string | null;
  applied: number;
  events: number;
  head: string;
  digest: string;
}

interface Answer {
  status: string;
  error_code: string;
  error_info: string;
  job_id: string;
  job_type?: string;
}

const dir = makeRunDir('raft-mission-test');
const sets = ['meta_group_seeds=', 'raft_tick_ms=50'];
let group: MemberGroup;
let joiner: MemberGroup | null = null;

t.before(async () => {
  group = new MemberGroup(dir, sets);
  await group.init(3);
});
t.teardown(async () => {
  await joiner?.stopAll();
  await group?.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

async function info(m: MemberProc): Promise<Member | null> {
  return group.get<Member>(m, '/api/v1/member');
}

async function leaderOf(members: MemberProc[]): Promise<{ m: MemberProc; info: Member } | undefined> {
  for (const m of members) {
    const i = await info(m);
    if (i?.role === 'leader') return { m, info: i };
  }
  return undefined;
}

async function emitTo(m: MemberProc, jobType: string, paras: unknown, jobId = ''): Promise<Answer> {
  const body: Record<string, unknown> = { version: '1.0', job_id: jobId, job_type: jobType, timestamp: String(Math.floor(Date.now() / 1000)), user_name: 'raft-test' };
  if (paras !== undefined) body.paras = paras;
  const r = await group.fetch(m, '/HttpService/Emit', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return (await r.json()) as Answer;
}

/** Emit on any member that answers (followers relay to the leader). */
async function emit(jobType: string, paras: unknown, jobId = ''): Promise<Answer> {
  let last: unknown = null;
  for (const m of group.alive()) {
    try {
      return await emitTo(m, jobType, paras, jobId);
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`no member answered: ${String(last)}`, { cause: last });
}

async function waitJob(jobId: string, ms = 30_000): Promise<Answer> {
  return waitFor(`job ${jobId} to end`, async () => {
    const a = await emit('get_status', {}, jobId);
    const about = a.job_id === jobId && a.job_type === 'raft_mission';
    return about && (a.status === 'done' || a.status === 'failed') ? a : undefined;
  }, ms);
}

async function converged(members: MemberProc[]): Promise<Member[] | undefined> {
  const infos = await Promise.all(members.map((m) => info(m)));
  if (infos.some((i) => i === null)) return undefined;
  const keys = new Set(infos.map((i) => `${i!.events}/${i!.head}/${i!.digest}`));
  return keys.size === 1 ? (infos as Member[]) : undefined;
}

t.test('raft_mission: refusals, transfer_leader, add_peer, remove_peer', async (t) => {
  group.startAll();
  const first = await waitFor('a leader with its election recorded', async () => {
    const l = await leaderOf(group.members);
    return l && l.info.events >= 4 ? l : undefined;
  });
  const [a, b, c] = group.members as [MemberProc, MemberProc, MemberProc];

  // Refusals: answered failed at once, with the original's numbers, and no job.
  const bad: [string, unknown, string][] = [
    ['missing paras', undefined, '70189'],
    ['missing task_type', {}, '70190'],
    ['unknown task_type', { task_type: 'split_brain' }, '70191'],
    ['transfer without a target', { task_type: 'transfer_leader' }, '70192'],
    ['transfer to a non-member', { task_type: 'transfer_leader', target_leader: '127.0.0.1:1' }, '70193'],
    ['remove a non-member', { task_type: 'remove_peer', peer: '127.0.0.1:1' }, '70198'],
    ['add an existing member', { task_type: 'add_peer', peer: b.id }, '70197'],
    ['peer not host:port', { task_type: 'add_peer', peer: 'no-port' }, '70194'],
  ];
  const eventsBefore = (await info(first.m))!.events;
  for (const [what, paras, code] of bad) {
    const r = await emit('raft_mission', paras);
    t.equal(r.status, 'failed', `${what}: failed (${r.error_info})`);
    t.equal(r.error_code, code, `${what}: error ${code}`);
  }
  t.equal((await info(first.m))!.events, eventsBefore, 'refusals wrote nothing to the log');

  // transfer_leader to a follower, named by its Raft address, sent to a follower.
  const target = [a, b, c].find((m) => m !== first.m)!;
  const other = [a, b, c].find((m) => m !== first.m && m !== target)!;
  const t0 = Date.now();
  const acc = await emitTo(other, 'raft_mission', { task_type: 'transfer_leader', target_leader: target.id });
  t.equal(acc.status, 'accept', `transfer accepted (${acc.error_info})`);
  const done = await waitJob(acc.job_id);
  t.equal(done.status, 'done', `transfer job done (${done.error_info})`);
  const now = await waitFor('the target to lead', async () => {
    const l = await leaderOf(group.members);
    return l?.m === target ? l : undefined;
  });
  t.ok(now.info.term > first.info.term, `the target leads in a later term (${Date.now() - t0} ms)`);
  const ended = await waitFor('one ending of the job on every member', () => converged(group.members));
  t.ok(ended.length === 3, 'members converge after the transfer');
  // A second transfer while the first is over: to the member it is already on is a no-op, done.
  const again = await emit('raft_mission', { task_type: 'transfer_leader', target_leader: `127.0.0.1:${target.httpPort}` });
  t.equal((await waitJob(again.job_id)).status, 'done', 'transfer to the current leader (by HTTP port) is done at once');

  // add_peer: a 4th process that joins (raft_join) rather than founding a group.
  const raftPort = await freePort();
  const httpPort = await freePort();
  const d: MemberProc = {
    id: `127.0.0.1:${raftPort}`,
    raftPort,
    httpPort,
    url: `http://127.0.0.1:${httpPort}`,
    dataDir: join(dir, 'member4'),
    logFile: join(dir, 'member4.log'),
    proc: null,
  };
  joiner = new MemberGroup(dir, [...sets, 'raft_join=true']);
  joiner.members = [a, b, c, d];
  joiner.start(d);
  await waitFor('the joiner to answer', async () => (await info(d)) ?? undefined);
  t.equal((await info(d))!.events, 0, 'the joiner starts with an empty world (founded nothing)');
  const add = await emit('raft_mission', { task_type: 'add_peer', peer: d.id, http_port: httpPort });
  t.equal(add.status, 'accept', `add_peer accepted (${add.error_info})`);
  const added = await waitJob(add.job_id, 60_000);
  t.equal(added.status, 'done', `add_peer done (${added.error_info})`);
  const four = await waitFor('all four members to apply the same log', () => converged([a, b, c, d]));
  t.equal(new Set(four.map((i) => i.digest)).size, 1, 'the new member has the same world digest');
  t.equal(four.find((i) => i.member === d.id)?.role, 'follower', 'the new member is a follower');
  // The membership is in the log: an original member, restarted (kill -9), knows the new one from its
  // log alone (its configured peer list does not name it) and, as leader, replicates to it.
  const cur = (await leaderOf([a, b, c, d]))!.m;
  const x = [a, b, c].find((m) => m !== cur)!;
  await group.kill9(x);
  group.start(x);
  await waitFor('the restarted member to catch up', () => converged([a, b, c, d]));
  const toX = await emit('raft_mission', { task_type: 'transfer_leader', target_leader: x.id });
  t.equal((await waitJob(toX.job_id)).status, 'done', 'transfer to the restarted member done');
  await waitFor('all four members to apply the same log under the restarted leader', () => converged([a, b, c, d]));
  t.pass('the restarted leader replicates to the added member');
  // It is a voter: leadership can be handed to it.
  const toD = await emit('raft_mission', { task_type: 'transfer_leader', target_leader: d.id });
  t.equal((await waitJob(toD.job_id)).status, 'done', 'transfer to the new member done');
  t.equal((await leaderOf([a, b, c, d]))?.m, d, 'the new member leads');

  // remove_peer of the leader itself: it hands over first; then the group of 3 still commits.
  const rm = await emit('raft_mission', { task_type: 'remove_peer', peer: d.id });
  t.equal(rm.status, 'accept', `remove_peer accepted (${rm.error_info})`);
  const removed = await waitJob(rm.job_id, 60_000);
  t.equal(removed.status, 'done', `remove_peer done (${removed.error_info})`);
  await joiner.kill9(d);
  const back = await emit('raft_mission', { task_type: 'transfer_leader', target_leader: first.m.id });
  t.equal(back.status, 'accept', 'the 3-member group accepts a job');
  t.equal((await waitJob(back.job_id)).status, 'done', 'and commits it to the end without the removed member');
  const three = await waitFor('the 3 members to converge', () => converged([a, b, c]));
  t.equal(three.filter((i) => i.role === 'leader').length, 1, 'one leader');
  const again2 = await emit('raft_mission', { task_type: 'remove_peer', peer: d.id });
  t.equal(again2.error_code, '70198', 'the removed member is no longer a member (70198)');
});
