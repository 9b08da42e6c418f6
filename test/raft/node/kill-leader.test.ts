// Real processes: three kv-demo members on loopback; continuous acknowledged writes; kill -9 the
// leader; a new leader must take writes; the killed member restarts; every acknowledged write must
// be on all three members, and the three states must be identical.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { postJson, putBody } from '../kv/kv-client.js';
import { KvDemoCluster } from '../kv/kv-demo-process.js';

void t.test('kill -9 the leader under load: no acknowledged write is lost', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cmgr-raft-'));
  const ids = ['m1', 'm2', 'm3'];
  const cluster = await KvDemoCluster.create({ root, ids, tickMs: 50, electionTicks: 10 });
  const onExit = () => cluster.killAllSync();
  process.on('exit', onExit);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  t.teardown(async () => {
    await cluster.killAll();
    agent.destroy();
    process.off('exit', onExit);
    fs.rmSync(root, { recursive: true, force: true });
  });

  await cluster.startAll();
  let leader = await cluster.waitLeader();
  t.pass(`first leader: ${leader}`);

  const acked = new Map<string, string>();
  const ackTimes: Array<{ at: number; member: string }> = [];
  let unknown = 0;
  let stop = false;
  let target = leader;
  async function writer(w: number): Promise<void> {
    let seq = 0;
    while (!stop) {
      const key = `w${w}-${seq++}`;
      const value = Buffer.from(`${key}=${Math.random().toString(36).slice(2)}`);
      const to = target;
      const m = cluster.member(to);
      try {
        const r = await postJson(agent, cluster.host, m.httpPort, '/v3/kv/put', putBody(key, value), 2000);
        if (r.status === 200) {
          acked.set(key, value.toString('base64'));
          ackTimes.push({ at: Date.now(), member: to });
          continue;
        }
        const body = JSON.parse(r.body) as { leader?: string | null; outcomeUnknown?: boolean };
        if (body.outcomeUnknown) unknown++;
        if (body.leader && body.leader !== to && cluster.members.has(body.leader)) target = body.leader;
        else await sleep(20);
      } catch {
        // Connection refused or reset (the member is dead): try another one.
        unknown++;
        if (target === to) target = ids[(ids.indexOf(to) + 1) % ids.length] as string;
        await sleep(20);
      }
    }
  }
  const writers = Array.from({ length: 8 }, (_, w) => writer(w));

  await sleep(1500);
  const beforeKill = acked.size;
  t.ok(beforeKill > 50, `writes acknowledged before the kill: ${beforeKill}`);
  const killedAt = Date.now();
  await cluster.kill(leader, 'SIGKILL');
  const killed = leader;

  leader = await cluster.waitLeader(10000, killed);
  t.not(leader, killed, `new leader: ${leader}`);
  target = leader;
  while (!ackTimes.some((a) => a.at > killedAt && a.member !== killed)) {
    if (Date.now() - killedAt > 10000) break;
    await sleep(20);
  }
  const firstAck = ackTimes.find((a) => a.at > killedAt && a.member !== killed);
  t.ok(firstAck, 'the new leader acknowledges writes');
  if (firstAck) t.pass(`first acknowledged write ${firstAck.at - killedAt} ms after the kill`);

  await sleep(1000);
  await cluster.start(killed);
  await sleep(1500);
  stop = true;
  await Promise.all(writers);
  t.ok(acked.size > beforeKill + 50, `writes acknowledged in total: ${acked.size} (${unknown} failed or unknown)`);

  // Converge: every member applies the same final index.
  let statuses = await Promise.all(ids.map((id) => cluster.status(id)));
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    statuses = await Promise.all(ids.map((id) => cluster.status(id)));
    const commit = Math.max(...statuses.map((s) => s?.commit ?? 0));
    if (statuses.every((s) => s && s.applied === commit)) break;
    await sleep(100);
  }
  t.ok(statuses.every((s) => s && s.applied === statuses[0]?.applied), `members converged at ${statuses.map((s) => s?.applied).join('/')}`);

  const dumps = await Promise.all(ids.map((id) => cluster.dump(id)));
  for (const [i, d] of dumps.entries()) {
    const id = ids[i] as string;
    let missing = 0;
    let wrong = 0;
    for (const [k, v] of acked) {
      if (!(k in d.kv)) missing++;
      else if (d.kv[k] !== v) wrong++;
    }
    t.equal(missing, 0, `${id}: no acknowledged write missing`);
    t.equal(wrong, 0, `${id}: every acknowledged value intact`);
  }
  t.same(dumps[1]?.kv, dumps[0]?.kv, 'm2 state equals m1 state');
  t.same(dumps[2]?.kv, dumps[0]?.kv, 'm3 state equals m1 state');
});
