// The leader dies while the agent is installing a compute node: the manager that comes back (a new
// Raft term on the same data dir) resumes add_comps, finds the install in progress through
// list_instances, waits for it and installs nothing twice; the job ends once, done.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, makeRunDir } from '../../src/launcher/index.js';
import type { Config } from '../../src/config/load.js';
import { ManagerRuntime } from '../../src/member/runtime.js';
import { AgentClient } from '../../src/agent/client.js';
import { readCompTopology, withComp } from '../../src/compute/index.js';
import type { Command } from '../../src/actors/index.js';
import { AgentChild, killEverythingUnder, removeDir, waitFor, writeConfig } from '../agent/helpers.js';
import { execOk, singleMemberConfig, startLeadingMember } from '../helpers/single-member.js';

const HOST = '127.0.0.1';
const COMP = { user: 'kunlun_app', password: 'Comp-Pw-Secret-5' };
const dir = makeRunDir('compute-resume');
const base = join(dir, 'agent');
let agentProc: AgentChild | null = null;
const runtimes: ManagerRuntime[] = [];

t.teardown(async () => {
  for (const r of runtimes) await r.stop().catch(() => undefined);
  await agentProc?.kill9();
  await killEverythingUnder(base);
  if (process.env.KEEP_RUN_DIR === undefined) removeDir(dir);
  else console.error(`run dir kept: ${dir}`);
});

const startMember = (cfg: Config, n: number): Promise<ManagerRuntime> => startLeadingMember(cfg, dir, n, runtimes);
const exec = (rt: ManagerRuntime, cmd: Command): Promise<number> => execOk(rt, cmd, 'compute_test');

t.test('add_comps resumes after the leader dies mid-install', async (t) => {
  const agentPort = await freePort();
  const cfgFile = join(dir, 'agent.cnf');
  writeConfig(cfgFile, { brpc_http_port: agentPort, local_ip: HOST, instance_base_dir: base, log_format: 'json', log_level: 'debug' });
  agentProc = new AgentChild(cfgFile, join(dir, 'agent.log'));
  agentProc.start();
  const agent = new AgentClient({ host: HOST, port: agentPort });
  await waitFor('the agent to answer', 20_000, async () => ((await agent.ping().then(() => true)) ? true : undefined));

  const cfg = await singleMemberConfig(dir);
  const rt1 = await startMember(cfg, 1);
  const lo = 20_000 + Math.floor(Math.random() * 20_000);
  await exec(rt1, { kind: 'machine.create', hostaddr: HOST, role: 'computer', rackId: '1', compDatadir: '/c', totalMemMB: 1024, totalCpuCores: 2, portRange: { lo, hi: lo + 20 }, agentPort });
  await exec(rt1, { kind: 'machine.create', hostaddr: HOST, role: 'storage', rackId: '1', datadir: '/d', logdir: '/l', walLogDir: '/w', totalMemMB: 1024, totalCpuCores: 2, agentPort });
  const cluster = await exec(rt1, { kind: 'cluster.create', haMode: 'rbr', maxStorageSizeGB: 1, maxConnections: 10, cpuCores: 1, innodbSizeMB: 64, compUser: COMP.user, compPassword: COMP.password });
  await exec(rt1, { kind: 'shard.add', cluster, nodes: [{ hostaddr: HOST, port: 57100 }] });

  const started = await rt1.execute({ kind: 'job.start', jobType: 'add_comps', request: { cluster_id: String(cluster), comps: '1' } }, { user: 'compute_test' });
  if (!started.ok || !started.result.ok) throw new Error(JSON.stringify(started));
  const jobId = Number(started.result.committed.find((c) => c.event.type === 'job.created')!.event.agg.split('/')[1]);
  const inst = await waitFor('the agent to be installing', 30_000, async () =>
    (await agent.listInstances({ type: 'computer' })).instances.find((i) => i.status === 'installing'),
  );
  const term1 = rt1.node.term;
  // The leader dies: its reconcilers are cut off and its Raft node is gone; the agent keeps installing.
  rt1.host.lostLeadership();
  await rt1.node.stop();
  t.comment(`leader of term ${term1} stopped while port ${inst.port} was installing`);

  const rt2 = await startMember(cfg, 2);
  t.ok(rt2.node.term > term1, `a new term (${rt2.node.term})`);
  const job = await waitFor('the job to end', 120_000, () => {
    const j = rt2.world.job(jobId);
    return j !== null && (j.status === 'done' || j.status === 'failed') ? j : undefined;
  });
  t.equal(job.status, 'done', `done (${job.errorInfo})`);
  const comp = rt2.world.comp(rt2.world.compsOf(cluster)[0]!)!;
  t.equal(comp.port, inst.port);
  t.equal(comp.status, 'active');

  const installs = readFileSync(join(dir, 'agent.log'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"job_type":"install_postgres"') && l.includes('"msg":"job started"'));
  t.equal(installs.length, 1, 'install_postgres was sent once');
  const listed = (await agent.listInstances({ type: 'computer' })).instances;
  t.same(listed.map((i) => [i.port, i.compute_node_id, i.status]), [[comp.port, comp.id, 'running']]);

  const c = new pg.Client({ host: HOST, port: comp.port, ...COMP, database: 'postgres' });
  await c.connect();
  const v = await c.query<{ term: string }>('SELECT term FROM kunlun.topology_version');
  await c.end();
  t.equal(Number(v.rows[0]!.term), rt2.node.term, 'the topology was written under the new term');
  const topo = await withComp({ host: HOST, port: comp.port, ...COMP }, (x) => readCompTopology(x));
  t.equal(topo?.shards.length, 1);
  const manager2 = readFileSync(join(dir, 'manager-2.1.log'), 'utf8');
  t.match(manager2, /resuming a step interrupted by a leader change/, 'the new leader resumed the interrupted step');
});
