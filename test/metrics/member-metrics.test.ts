// One real member in this process (Raft, world, reconcilers, HTTP): GET /metrics answers the text
// format; Raft figures and job counters move when commands and a job run; HTTP requests are labelled
// by route pattern, not URL; node health series follow the world and disappear with a deleted node.
import t from 'tap';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { freePort, makeRunDir } from '../../src/launcher/index.js';
import { createLogger } from '../../src/log/logger.js';
import { startMember, type MemberHandle } from '../../src/member/member.js';
import type { Command } from '../../src/actors/index.js';
import { waitFor } from '../helpers/member-group.js';
import { singleMemberConfig } from '../helpers/single-member.js';
import { bearer, testTokens } from '../helpers/api-tokens.js';
import { find, scrape, value } from './scrape.js';

const HOST = '127.0.0.1';
const dir = makeRunDir('member-metrics');
let member: MemberHandle;
const auth = bearer(testTokens(dir));

t.before(async () => {
  const cfg = await singleMemberConfig(dir);
  member = await startMember(cfg, createLogger({ level: 'warn', file: join(dir, 'member') }));
  await waitFor('the member to lead', () => Promise.resolve(member.runtime.isLeader));
});
t.teardown(async () => {
  await member?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function exec(cmd: Command): Promise<number> {
  const r = await member.runtime.execute(cmd, { user: 'metrics_test' });
  if (!r.ok || !r.result.ok) throw new Error(`${cmd.kind}: ${JSON.stringify(r)}`);
  return Number(r.result.committed[0]!.event.agg.split('/')[1]);
}

t.test('Raft figures, a job counted, requests by route pattern', async (t) => {
  const before = await scrape(member.url, auth);
  t.equal(before.status, 200);
  t.match(before.contentType, /^text\/plain; version=0\.0\.4/);
  const s0 = before.samples;
  t.equal(value(s0, 'cluster_mgr_raft_is_leader'), 1, 'the only member leads');
  t.equal(value(s0, 'cluster_mgr_raft_has_leader'), 1);
  t.equal(value(s0, 'cluster_mgr_raft_term'), member.runtime.node.term);
  t.equal(value(s0, 'cluster_mgr_info', { member: member.runtime.cfg.selfId }), 1);
  t.ok(value(s0, 'process_resident_memory_bytes')! > 0, 'process metrics are served too');
  t.ok(value(s0, 'cluster_mgr_raft_wal_fsync_duration_seconds_count')! > 0, 'WAL fsyncs are timed');
  t.equal(value(s0, 'cluster_mgr_raft_leader_changes_total'), 1, 'one leader change seen: none → this member');
  t.equal(find(s0, 'cluster_mgr_mirror_lag_entries').length, 0, 'no mirror configured: no mirror lag');
  t.equal(find(s0, 'cluster_mgr_projection_lag_entries').length, 0, 'no metadata shard configured: no projection lag');

  // A job that needs nothing outside the manager: create_machine without an agent port.
  const job = await exec({ kind: 'job.start', jobType: 'create_machine', request: { hostaddr: '10.1.2.3', machine_type: 'computer', rack_id: '0', comp_datadir: '/c', port_range: '1000-2000', total_mem: 1024, total_cpu_cores: 2 } });
  await waitFor('the job to end', () => Promise.resolve(member.runtime.world.job(job)?.status === 'done'));
  // A job that fails: its agent port does not answer.
  const closed = await freePort();
  const bad = await exec({ kind: 'job.start', jobType: 'create_machine', request: { hostaddr: '10.1.2.4', machine_type: 'computer', rack_id: '0', comp_datadir: '/c', port_range: '1000-2000', total_mem: 1024, total_cpu_cores: 2, nodemgr_port: closed } });
  await waitFor('the failing job to end', () => Promise.resolve(member.runtime.world.job(bad)?.status === 'failed'));

  await fetch(`${member.url}/api/v1/jobs/${job}`, { headers: auth });
  await fetch(`${member.url}/api/v1/jobs/${bad}`, { headers: auth });
  await fetch(`${member.url}/no/such/path`, { headers: auth });
  const s1 = (await scrape(member.url, auth)).samples;
  t.equal(value(s1, 'cluster_mgr_jobs_finished_total', { job_type: 'create_machine', outcome: 'done' }), 1, 'the done job is counted');
  t.equal(value(s1, 'cluster_mgr_jobs_finished_total', { job_type: 'create_machine', outcome: 'failed' }), 1, 'the failed job is counted');
  t.equal(value(s1, 'cluster_mgr_job_duration_seconds_count', { job_type: 'create_machine', outcome: 'done' }), 1, 'and timed');
  t.ok(value(s1, 'cluster_mgr_raft_applied_index')! > value(s0, 'cluster_mgr_raft_applied_index')!, 'the applied index grew');
  t.equal(value(s1, 'cluster_mgr_raft_applied_index'), member.runtime.node.applied);
  t.ok(value(s1, 'cluster_mgr_raft_proposals_total')! > value(s0, 'cluster_mgr_raft_proposals_total')!, 'proposals are counted');
  t.ok(value(s1, 'cluster_mgr_raft_proposal_duration_seconds_count')! > (value(s0, 'cluster_mgr_raft_proposal_duration_seconds_count') ?? 0), 'proposals are timed');
  t.equal(find(s1, 'cluster_mgr_jobs_active').length, 0, 'no job is active');
  t.equal(value(s1, 'cluster_mgr_http_requests_total', { method: 'GET', route: '/api/v1/jobs/:id', status: '200' }), 2, 'requests are labelled by route pattern');
  t.equal(find(s1, 'cluster_mgr_http_requests_total').filter((s) => /\/jobs\/\d/.test(s.labels.route!)).length, 0, 'never by URL');
  t.equal(value(s1, 'cluster_mgr_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }), 1, 'unknown paths share one label');
  t.equal(value(s1, 'cluster_mgr_http_requests_total', { method: 'GET', route: '/metrics', status: '200' }), 1, 'the first scrape is counted');
});

t.test('node health series follow the world; a deleted node leaves no series', async (t) => {
  const lo = 20_000 + Math.floor(Math.random() * 20_000);
  await exec({ kind: 'machine.create', hostaddr: HOST, role: 'storage', rackId: '1', datadir: '/d', logdir: '/l', walLogDir: '/w', totalMemMB: 1024, totalCpuCores: 2, portRange: { lo, hi: lo + 20 } });
  const cluster = await exec({ kind: 'cluster.create', haMode: 'rbr', maxStorageSizeGB: 1, maxConnections: 10, cpuCores: 1, innodbSizeMB: 64, compUser: 'abc', compPassword: 'Comp-Pw-1' });
  // Nothing listens on these ports: the leader's probes find both nodes unreachable.
  const shard = await exec({ kind: 'shard.add', cluster, nodes: [{ hostaddr: HOST, port: lo + 1 }, { hostaddr: HOST, port: lo + 2 }] });
  await exec({ kind: 'shard.set_status', shard, status: 'inuse' });
  const nodes = member.runtime.world.shard(shard)!.nodes;
  t.equal(nodes.length, 2);
  const s1 = (await scrape(member.url, auth)).samples;
  for (const id of nodes) {
    const series = find(s1, 'cluster_mgr_storage_node_health', { node: String(id) });
    t.same(series.map((s) => s.labels.health).sort(), ['alive', 'busy', 'dead', 'unknown', 'unreachable'], `node ${id}: one series per health state`);
    t.equal(series.filter((s) => s.value === 1).length, 1, `node ${id}: exactly one current state`);
    t.same(series[0]!.labels, { ...series[0]!.labels, cluster: String(cluster), shard: String(shard), address: `${HOST}:${series[0]!.labels.address!.split(':')[1]}` });
    t.equal(value(s1, 'cluster_mgr_storage_node_repair', { node: String(id), repair: 'ok' }), 1);
  }
  t.equal(value(s1, 'cluster_mgr_shard_failover_in_progress', { cluster: String(cluster), shard: String(shard) }), 0);

  const primary = member.runtime.world.shard(shard)!.primary;
  const gone = nodes.find((n) => n !== primary)!;
  await exec({ kind: 'node.delete', node: gone });
  const s2 = (await scrape(member.url, auth)).samples;
  t.equal(find(s2, 'cluster_mgr_storage_node_health', { node: String(gone) }).length, 0, 'the deleted node has no health series');
  t.equal(find(s2, 'cluster_mgr_storage_node_repair', { node: String(gone) }).length, 0, 'nor repair series');
  t.equal(find(s2, 'cluster_mgr_storage_node_health', { node: String(nodes.find((n) => n !== gone)) }).length, 5, 'the other node keeps its series');

  // The leader probes these nodes: probe durations are recorded by result, and its replication
  // figures carry no deleted node either.
  await waitFor('a probe of the shard', async () => (value((await scrape(member.url, auth)).samples, 'cluster_mgr_storage_probe_duration_seconds_count', { result: 'unreachable' }) ?? 0) > 0);
  const s3 = (await scrape(member.url, auth)).samples;
  t.equal(find(s3, 'cluster_mgr_storage_replication_running', { node: String(gone) }).length, 0);
});
