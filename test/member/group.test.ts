// Three real member processes and a real nats-server: a leader is elected and recorded in the log, the
// log is mirrored to JetStream; kill -9 of the leader; a new leader takes over, records its election
// and continues the mirror with no gap or duplicate; the killed member comes back and all converge.
import t from 'tap';
import { rmSync } from 'node:fs';
import { makeRunDir, NatsInstance } from '../../src/launcher/index.js';
import { H } from '../../src/mirror/subjects.js';
import { verifyChain } from '../../src/events/index.js';
import { MemberGroup, waitFor, type MemberProc } from '../helpers/member-group.js';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../../bin/cluster-mgr.js', import.meta.url));

interface Member {
  member: string;
  role: string;
  term: number;
  leader: string | null;
  applied: number;
  events: number;
  head: string;
  digest: string;
  mirror: { mirroredIndex: number; connected: boolean } | null;
}

const dir = makeRunDir('group-test');
const nats = new NatsInstance({ dir: `${dir}/nats` });
let group: MemberGroup;

t.before(async () => {
  await nats.start();
  group = new MemberGroup(dir, [`nats_url=${nats.url}`, 'nats_stream=GROUPTEST', 'meta_group_seeds=']);
  await group.init(3);
});
t.teardown(async () => {
  await group?.stopAll();
  await nats.kill9();
  rmSync(dir, { recursive: true, force: true });
});

async function leaderOf(members: MemberProc[]): Promise<{ m: MemberProc; info: Member } | undefined> {
  for (const m of members) {
    const info = await group.get<Member>(m, '/api/v1/member');
    if (info?.role === 'leader') return { m, info };
  }
  return undefined;
}

async function streamMessages() {
  const nc = await nats.connect();
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info('GROUPTEST');
  const out: { index: number; pos: number; seq: number; hash: string; type: string; bytes: Uint8Array }[] = [];
  for (let s = 1; s <= info.state.last_seq; s++) {
    const m = await jsm.streams.getMessage('GROUPTEST', { seq: s });
    out.push({ index: Number(m.header.get(H.index)), pos: Number(m.header.get(H.pos)), seq: Number(m.header.get(H.seq)), hash: m.header.get(H.hash), type: m.header.get(H.type), bytes: m.data });
  }
  await nc.close();
  return out;
}

t.test('elect, record, mirror; kill -9 the leader; the new leader continues; all converge', async (t) => {
  const t0 = Date.now();
  group.startAll();
  const first = await waitFor('a leader with its election recorded', async () => {
    const l = await leaderOf(group.members);
    return l && l.info.events >= 4 ? l : undefined;
  });
  t.comment(`leader ${first.m.id} (term ${first.info.term}) elected and recorded ${Date.now() - t0} ms after start`);
  await waitFor('the mirror to hold the first events', async () => (await streamMessages()).length >= 4);

  // Status subscribers see the manager group change.
  const nc = await nats.connect();
  const statuses: { subject: string; view: { memberState?: string; id?: string } }[] = [];
  const sub = nc.subscribe('kunlun.status.manager.>', {
    callback: (_e, m) => statuses.push({ subject: m.subject, view: JSON.parse(new TextDecoder().decode(m.data)) as { memberState?: string } }),
  });
  t.teardown(() => nc.close());

  const killedAt = Date.now();
  await group.kill9(first.m);
  const survivors = group.alive();
  const second = await waitFor('a new leader with its election recorded', async () => {
    const l = await leaderOf(survivors);
    return l && l.info.term > first.info.term && l.info.events >= first.info.events + 1 ? l : undefined;
  });
  t.not(second.m.id, first.m.id, 'another member leads');
  t.ok(second.info.term > first.info.term, 'in a higher term');
  t.comment(`new leader ${second.m.id} (term ${second.info.term}) recorded ${Date.now() - killedAt} ms after kill -9`);
  const token = second.m.id.replace(/\./g, '_');
  await waitFor('a status message naming the new leader as source', () =>
    Promise.resolve(statuses.some((s) => s.subject === `kunlun.status.manager.${token}` && s.view.memberState === 'source')),
  );
  t.pass('status subscribers were told which member is the source');
  sub.unsubscribe();

  // While it is down, its own data dir can be audited.
  const fromDir = spawnSync(process.execPath, [bin, 'replay', '--data-dir', first.m.dataDir, '--verify'], { encoding: 'utf8' });
  t.equal(fromDir.status, 0, `replay --data-dir exits 0 (${fromDir.stderr.trim()})`);
  t.match(fromDir.stdout, /chain ok: \d+ links verified/, 'the stopped member\'s log verifies');
  t.match(fromDir.stdout, /manager\.leader_elected/, 'and lists its events');

  group.start(first.m);
  const final = await waitFor('all three members to converge', async () => {
    const infos = await Promise.all(group.members.map((m) => group.get<Member>(m, '/api/v1/member')));
    if (infos.some((i) => !i)) return undefined;
    const heads = new Set(infos.map((i) => `${i!.head}/${i!.digest}`));
    return heads.size === 1 && infos.every((i) => i!.events === infos[0]!.events) ? infos : undefined;
  });
  t.equal(new Set(final.map((i) => i!.digest)).size, 1, 'identical world digests on every member');
  t.equal(final.filter((i) => i!.role === 'leader').length, 1, 'exactly one leader');

  const leaderInfo = final.find((i) => i!.role === 'leader')!;
  await waitFor('the mirror to catch up', async () => {
    const l = await group.get<Member>(group.members.find((m) => m.id === leaderInfo.member)!, '/api/v1/member');
    return l?.mirror?.mirroredIndex === l?.applied ? true : undefined;
  });
  const msgs = await streamMessages();
  t.equal(msgs.length, leaderInfo.events, 'one stream message per committed event');
  t.same(msgs.map((m) => m.seq), msgs.map((_, i) => i + 1), 'chain positions 1..N: no gap, no duplicate');
  const keys = msgs.map((m) => `${m.index}-${m.pos}`);
  t.equal(new Set(keys).size, keys.length, 'no (index, pos) twice');
  t.ok(msgs.every((m, i) => i === 0 || m.index > msgs[i - 1]!.index || (m.index === msgs[i - 1]!.index && m.pos > msgs[i - 1]!.pos)), 'in log order');
  const chain = verifyChain(msgs.map((m) => ({ seq: m.seq, type: m.type, bytes: m.bytes, hash: m.hash })));
  t.ok(chain.ok, 'the hash chain over the stream verifies');
  if (chain.ok) t.equal(chain.head, leaderInfo.head, 'and ends at the members\' chain head');
  const elections = msgs.filter((m) => m.type === 'manager.leader_elected').length;
  t.ok(elections >= 2, `both elections are in the stream (${elections})`);

  // The audit tool, as an operator runs it: verify the stream and compare with a live member.
  const leaderUrl = group.members.find((m) => m.id === leaderInfo.member)!.url;
  const r = spawnSync(process.execPath, [bin, 'replay', '--nats', nats.url, '--stream', 'GROUPTEST', '--verify', '--compare', leaderUrl], { encoding: 'utf8', env: { ...process.env, CLUSTER_MGR_API_TOKEN: group.tokens.read } });
  t.equal(r.status, 0, `replay exits 0 (stderr: ${r.stderr.trim()})`);
  t.match(r.stdout, /chain ok: \d+ links verified/);
  t.match(r.stdout, /compare with 127\.0\.0\.1:\d+: MATCH/);
  t.match(r.stdout, /manager\/127\.0\.0\.1:\d+ +manager\.leader_elected/, 'the timeline lists the elections');
  const typed = spawnSync(process.execPath, [bin, 'replay', '--nats', nats.url, '--stream', 'GROUPTEST', '--type', 'manager.leader_*', '--json'], { encoding: 'utf8' });
  const lines = typed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string });
  t.equal(lines.length, elections, 'a type filter shows just the elections');
});
