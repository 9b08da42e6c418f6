// Issue 11, end to end: ports of the machine's ranges held by other programs — a listener, and an
// outgoing connection (what made the playground's installs fail inside the ephemeral range) — do not
// fail create_cluster, add_shards or add_comps: each refused instance moves to the next free port, the
// jobs end done, get_status lists the skipped ports and why, and the metadata shard follows the moves.
// create_machine warns when the range it is given overlaps the host's ephemeral range.
import t from 'tap';
import type { RowDataPacket } from 'mysql2/promise';
import { ephemeralPortRange } from '../../src/launcher/index.js';
import { holdByConnection, holdListening, type Held } from '../helpers/port-holders.js';
import { E2eEnv, waitFor, type EmitReply } from './env.js';

interface View {
  nodes: { id: number; cluster: number; shard: number; port: number }[];
  comps: { id: number; cluster: number; port: number }[];
  jobs: { id: number; parent: number | null; jobType: string }[];
}
interface Skipped { instance: string; hostaddr: string; port: number; reason: string }

const env = new E2eEnv('e2e-ports');
const held: Held[] = [];
t.teardown(async () => {
  for (const h of held) await h.release();
  await env.stop();
});

const skipped = (a: EmitReply): Skipped[] => (a.attachment?.skipped_ports as Skipped[] | undefined) ?? [];

async function statusOf(jobId: number): Promise<EmitReply> {
  return env.emit(await env.leader(), 'get_status', {}, String(jobId));
}

t.test('held ports are skipped; the jobs end done', async (t) => {
  await env.start();
  const host = '127.0.0.1';
  const lo = Number(env.storageRange.split('-')[0]);
  const clo = Number(env.computeRange.split('-')[0]);
  // The range reaches into the ephemeral range (when the host has one), so create_machine warns;
  // placement takes the lowest free slots, which stay in this run's claimed block.
  const eph = ephemeralPortRange();
  const storageRange = eph !== null && eph.lo > lo + 100 ? `${lo}-${eph.lo + 9}` : env.storageRange;
  // One at a time, so teardown releases those made when a later one fails.
  held.push(await holdListening(lo));
  held.push(await holdByConnection(lo + 4));
  held.push(await holdListening(clo));

  const m = await env.run('create_machine', {
    hostaddr: host, machine_type: 'storage', rack_id: '1', datadir: '/d', logdir: '/l', wal_log_dir: '/w',
    port_range: storageRange, total_mem: '4096', total_cpu_cores: '2', nodemgr_port: String(env.agentPort),
  });
  if (storageRange !== env.storageRange) {
    t.match(m.attachment?.warning, /overlaps its ephemeral port range/, 'create_machine warns about the ephemeral overlap');
    const steps = m.attachment?.steps as { step: string; info: string }[];
    t.match(steps.find((s) => s.step === 'check_port_range')?.info, /warning: storage port_range/, 'in its step info too');
  }
  const cm = await env.run('create_machine', {
    hostaddr: host, machine_type: 'computer', rack_id: '1', comp_datadir: '/c',
    port_range: env.computeRange, total_mem: '4096', total_cpu_cores: '2', nodemgr_port: String(env.agentPort),
  });
  t.equal(cm.attachment?.warning, undefined, 'a range clear of the ephemeral one: no warning');

  const t0 = Date.now();
  const created = await env.run('create_cluster', {
    ha_mode: 'rbr', shards: '1', nodes: '1', comps: '1', max_storage_size: '20', max_connections: '6', cpu_cores: '2',
    innodb_size: '16', dbcfg: '0', storage_iplists: [host], computer_iplists: [host],
  });
  t.comment(`create_cluster with 2 storage ports and 1 compute port held: ${Date.now() - t0} ms`);
  const cluster = Number(created.attachment?.cluster_id);
  let v = await env.view<View>();
  t.same(v.nodes.filter((n) => n.cluster === cluster).map((n) => n.port), [lo + 8], 'the node moved past the listener and the connection');
  t.same(v.comps.filter((c) => c.cluster === cluster).map((c) => c.port), [clo + 3], 'the compute node moved past the listener');
  t.match(skipped(created), [
    { hostaddr: host, port: lo, reason: /port_in_use|cannot be bound/ },
    { hostaddr: host, port: lo + 4, reason: /cannot be bound/ },
  ], 'create_cluster lists both skipped storage ports and why');
  const child = v.jobs.find((j) => j.parent === Number(created.job_id) && j.jobType === 'internal_add_comps')!;
  t.match(skipped(await statusOf(child.id)), [{ instance: /^comp\//, port: clo }], 'its add_comps child lists the skipped compute port');

  // add_shards: one more storage port held by a connection, in the slot it would take next.
  held.push(await holdByConnection(lo + 12));
  const added = await env.run('add_shards', { cluster_id: String(cluster), shards: '1', nodes: '2', storage_iplists: [host] });
  t.equal(added.status, 'done');
  v = await env.view<View>();
  const ports = v.nodes.filter((n) => n.cluster === cluster).map((n) => n.port).sort((a, b) => a - b);
  const heldPorts = held.map((h) => h.port);
  t.equal(ports.length, 3, 'three storage nodes');
  t.notOk(ports.some((p) => heldPorts.includes(p)), `no node on a held port (nodes ${ports.join(',')}; held ${heldPorts.join(',')})`);
  t.ok(skipped(added).some((s) => s.port === lo + 12), 'add_shards lists the port it skipped');
  t.ok(skipped(added).every((s) => heldPorts.includes(s.port)), 'and only held ports');

  // add_nodes: the next free slot held by a listener; the job also meets the ports the others skipped.
  held.push(await holdListening(lo + 24));
  const first = v.nodes.find((n) => n.cluster === cluster && n.port === lo + 8)!;
  const grown = await env.run('add_nodes', { cluster_id: String(cluster), shard_id: String(first.shard), nodes: '1', storage_iplists: [host] });
  v = await env.view<View>();
  const newNode = v.nodes.find((n) => n.shard === first.shard && n.id !== first.id)!;
  t.notOk(held.some((h) => h.port === newNode.port), `add_nodes put the node on a free port (${newNode.port})`);
  t.ok(skipped(grown).some((s) => s.port === lo + 24), 'add_nodes lists the port it skipped');
  ports.push(newNode.port);
  ports.sort((a, b) => a - b);

  // add_comps: the next compute slot held by a connection.
  held.push(await holdByConnection(clo + 6));
  const comps = await env.run('add_comps', { cluster_id: String(cluster), comps: '1', computer_iplists: [host] });
  // A job remembers only its own refusals: add_comps tries the port create_cluster's comp left (still
  // held) again, then the next one (held too), and lands on the third.
  t.match(skipped(comps), [
    { instance: /^comp\//, hostaddr: host, port: clo, reason: /cannot be bound/ },
    { instance: /^comp\//, hostaddr: host, port: clo + 6, reason: /cannot be bound/ },
  ], 'add_comps lists the ports it skipped, and why');
  v = await env.view<View>();
  t.same(v.comps.filter((c) => c.cluster === cluster).map((c) => c.port).sort((a, b) => a - b), [clo + 3, clo + 9]);

  // The metadata shard follows the moves.
  const want = ports.join(',');
  await waitFor('shard_nodes to list the moved ports', async () => {
    const rows = await env.metaRows<RowDataPacket & { p: number }>('SELECT port AS p FROM shard_nodes WHERE db_cluster_id = ? ORDER BY port', [cluster]);
    return rows.map((r) => r.p).join(',') === want ? true : undefined;
  }, 30_000);
  t.pass(`shard_nodes has the nodes on their new ports (${want})`);
});
