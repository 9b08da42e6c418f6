// Golden get_status attachments: the keys XPanel reads per job type (clients-and-agent.md §2.3) and the
// original's example (cluster_mgr-api.md §1.6), compared field by field with what get_status answers
// for jobs driven through the actors as the engine drives them; and every key a definition declares
// holds a value of its declared shape.
import t, { type Test } from 'tap';
import { World, type Command } from '../../src/actors/index.js';
import { attachmentKeys, type JsonSchema } from '../../src/jobs/definition.js';
import { JOB_DEFINITIONS } from '../../src/jobs/types/index.js';
import { jobStatus } from '../../src/http/sync-answers.js';
import { Leader } from '../actors/helpers.js';

const L = new Leader(new World());
L.machines(3);
L.machines(2, 'computer');
const SYS = { system: 'cluster_mgr' };

function start(jobType: string, request: Record<string, unknown>, parent?: number): number {
  const r = L.must({ kind: 'job.start', jobType, request, ...(parent !== undefined ? { parent } : {}) });
  return Number(r.committed.find((c) => c.event.type === 'job.created')!.event.agg.slice(4));
}
function begin(job: number, step: string): void {
  L.must({ kind: 'job.step_start', job, step, index: L.world.job(job)!.progress.done, total: 9 }, SYS);
}
function end(job: number, step: string, info = ''): void {
  L.must({ kind: 'job.step_finish', job, step, ok: true, done: L.world.job(job)!.progress.done + 1, total: 9, info }, SYS);
}
function step(job: number, name: string, info = '', fn: () => void = () => undefined): void {
  begin(job, name);
  fn();
  end(job, name, info);
}
const finish = (job: number, result: Record<string, unknown> = {}) => L.must({ kind: 'job.finish', job, result } as Command, SYS);
const att = (job: number) => jobStatus(L.world, String(job)).attachment as Record<string, unknown>;
const nodesAt = (port: number) => [1, 2, 3].map((i) => ({ hostaddr: `10.0.0.${i}`, port }));
const hostsAt = (port: number) => [1, 2, 3].map((i) => `10.0.0.${i}_${port};`).join('');

/** Does `v` have the declared shape? The problems, as paths. */
function misfits(v: unknown, s: JsonSchema, at: string): string[] {
  const types = s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];
  const kind = v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v;
  if (types.length > 0 && !types.includes(kind) && !(kind === 'integer' && types.includes('number'))) return [`${at}: ${kind}, declared ${types.join('|')}`];
  const out: string[] = [];
  if (s.enum !== undefined && !s.enum.includes(v as string)) out.push(`${at}: ${JSON.stringify(v)} not in ${s.enum.join(',')}`);
  if (s.suffix !== undefined && typeof v === 'string' && v !== '' && !v.endsWith(s.suffix)) out.push(`${at}: ${JSON.stringify(v)} does not end with ${s.suffix}`);
  if (Array.isArray(v) && s.items !== undefined) v.forEach((x, i) => out.push(...misfits(x, s.items!, `${at}[${i}]`)));
  if (kind === 'object') {
    const o = v as Record<string, unknown>;
    for (const [k, ps] of Object.entries(s.properties ?? {})) if (k in o) out.push(...misfits(o[k], ps, `${at}.${k}`));
    if (s.additionalProperties !== undefined) for (const [k, x] of Object.entries(o)) out.push(...misfits(x, s.additionalProperties, `${at}.${k}`));
  }
  return out;
}

/** Every declared key of the job's type that the attachment holds has its declared shape. */
function conforms(t: Test, job: number): void {
  const j = L.world.job(job)!;
  const a = att(job);
  const keys = attachmentKeys(JOB_DEFINITIONS.get(j.jobType)!);
  const bad = Object.entries(keys).flatMap(([k, s]) => (k in a ? misfits(a[k], s, k) : []));
  t.same(bad, [], `${j.jobType}: the attachment has the declared shapes`);
  for (const [k, s] of Object.entries(JOB_DEFINITIONS.job(j.jobType)!.attachment.keys)) if (s.optional !== true) t.ok(k in a, `${j.jobType}: declared key ${k} is answered`);
}

let cluster = 0;
let shard1 = 0;

t.test('create_cluster: the original example (§1.6) field by field', (t) => {
  const job = start('create_cluster', { ha_mode: 'rbr', shards: '1', nodes: '3', comps: '1', max_storage_size: '20', max_connections: '6', cpu_cores: '8', innodb_size: '1' });
  cluster = Number((L.world.job(job)!.request as { cluster_id: number }).cluster_id);
  t.match(att(job), { storage_state: 'prepare', computer_state: 'prepare', job_steps: 'shard,computer', step: '' }, 'accepted: both parts prepare');
  step(job, 'place_shards', '', () => L.must({ kind: 'shard.add', cluster, name: 'shard_1', nodes: nodesAt(57000) }, SYS));
  shard1 = L.world.shardByName(cluster, 'shard_1')!.id;
  begin(job, 'start_comps');
  const child = start('internal_add_comps', { cluster_id: cluster, comps: 1, computer_iplists: [], parent_step: 'start_comps' }, job);
  end(job, 'start_comps', String(child));
  begin(job, 'install_storage');
  const mid = att(job);
  t.match(mid, { storage_state: 'dispatch', computer_state: 'dispatch', step: 'install_storage', computer_id: String(child) }, 'running: both parts dispatched, step is a name');
  step(child, 'comps_mark', String(L.world.next.comp), () => undefined);
  const comp = L.must({ kind: 'comp.add', cluster, hostaddr: '10.1.0.1', port: 47000 }, SYS);
  t.ok(comp.ok);
  finish(child, { cluster_id: cluster, comp_ids: [1], computer_hosts: '10.1.0.1_47000' });
  end(job, 'install_storage');
  step(job, 'wire_replication');
  step(job, 'activate_shards');
  step(job, 'cluster_inuse');
  finish(job, { cluster_id: cluster, cluster_name: L.world.cluster(cluster)!.name, shard_ids: [shard1], comps: {} });

  const a = att(job);
  // The reference's answer (cluster_mgr-api.md §1.6), with its values where they are fixed.
  const golden = {
    cluster_id: String(cluster),
    cluster_name: L.world.cluster(cluster)!.name,
    computer_id: String(child),
    shard_id: String(job),
    computer_user: 'abc',
    storage_state: 'done',
    computer_state: 'done',
    job_steps: 'shard,computer',
  };
  for (const [k, v] of Object.entries(golden)) t.equal(a[k], v, `attachment.${k}`);
  t.notOk('computer_pwd' in a, 'computer_pwd: the original answered the password in clear; never here');
  t.same(a.shard_step, [{ storage_state: 'done', shard_ids: [{ shard_1: String(shard1) }], shard_hosts: [{ shard_1: hostsAt(57000) }], error_info: '' }], 'shard_step[0]: {<shard_name>: <id>}, hosts with the trailing ";"');
  t.same(a.computer_step, [{ computer_state: 'done', computer_hosts: '10.1.0.1_47000;', computer_id: String(child), error_info: '' }], 'computer_step[0]');
  t.equal(a.step, 'cluster_inuse', 'step: the last step once ended');
  conforms(t, job);
  conforms(t, child);
  for (const n of L.world.nodesOf(shard1)) L.must({ kind: 'node.set_status', node: n, status: 'active' });
  L.must({ kind: 'shard.set_status', shard: shard1, status: 'inuse' });
  t.end();
});

t.test('add_shards: shard_ids as [{name: id}] and shard_hosts', (t) => {
  const job = start('add_shards', { cluster_id: String(cluster), shards: '1', nodes: '3' });
  t.equal(att(job).cluster_id, String(cluster), 'cluster_id: a string');
  step(job, 'plan', '2');
  step(job, 'place_shards', '', () => L.must({ kind: 'shard.add', cluster, name: 'shard_2', nodes: nodesAt(57004) }, SYS));
  const s2 = L.world.shardByName(cluster, 'shard_2')!.id;
  t.match(att(job), { storage_state: 'dispatch' });
  finish(job, { cluster_id: cluster, shard_ids: [s2], shard_names: ['shard_2'] });
  const a = att(job);
  t.same(a.shard_ids, [{ shard_2: String(s2) }], 'shard_ids: [{name: id}] (not the result\'s ids)');
  t.same(a.shard_hosts, [{ shard_2: hostsAt(57004) }]);
  t.equal(a.storage_state, 'done');
  t.equal(a.cluster_id, String(cluster), 'cluster_id stays a string (the result holds a number)');
  conforms(t, job);
  t.end();
});

t.test('add_nodes: shard_hosts and shard_state keyed by shard id', (t) => {
  const job = start('add_nodes', { cluster_id: String(cluster), shard_id: String(shard1), nodes: '1' });
  step(job, 'place_nodes', '', () => L.must({ kind: 'node.add', shard: shard1, hostaddr: '10.0.0.3', port: 57008 }, SYS));
  begin(job, 'install_nodes');
  t.same(att(job).shard_state, [{ [String(shard1)]: 1 }], 'N_DISPATCH while installing');
  t.same(att(job).shard_hosts, [{ [String(shard1)]: '10.0.0.3_57008;' }], 'the new node while it is created');
  end(job, 'install_nodes');
  const node = L.world.nodeAt('10.0.0.3', 57008)!;
  finish(job, { cluster_id: cluster, nodes: [{ shard_id: shard1, node_id: Number(node.slice(5)), hostaddr: '10.0.0.3', port: 57008 }] });
  const a = att(job);
  t.same(a.shard_hosts, [{ [String(shard1)]: '10.0.0.3_57008;' }]);
  t.same(a.shard_state, [{ [String(shard1)]: 5 }], 'N_DONE');
  t.equal(a.storage_state, 'done');
  conforms(t, job);
  L.must({ kind: 'node.set_status', node: Number(node.slice(5)), status: 'active' });
  t.end();
});

t.test('add_comps and delete_comp: computer_hosts with the trailing ";", computer_state, computer_id', (t) => {
  const job = start('add_comps', { cluster_id: String(cluster), comps: '1' });
  step(job, 'comps_mark', String(L.world.next.comp));
  step(job, 'comps_record', '1', () => L.must({ kind: 'comp.add', cluster, hostaddr: '10.1.0.2', port: 47003 }, SYS));
  begin(job, 'comps_install');
  t.match(att(job), { computer_state: 'dispatch', computer_hosts: '10.1.0.2_47003;', computer_id: String(job) });
  end(job, 'comps_install');
  finish(job, { cluster_id: cluster, comp_ids: [2], computer_hosts: '10.1.0.2_47003' });
  t.match(att(job), { computer_state: 'done', computer_hosts: '10.1.0.2_47003;', computer_id: String(job), cluster_id: String(cluster) });
  conforms(t, job);

  const comp = Number(L.world.nodeAt('10.1.0.2', 47003)!.slice(5));
  const del = start('delete_comp', { cluster_id: String(cluster), comp_id: String(comp) });
  step(del, 'deactivate');
  step(del, 'uninstall');
  step(del, 'remove', '', () => L.must({ kind: 'comp.delete', comp }, SYS));
  finish(del, { cluster_id: cluster, comp_id: comp, computer_hosts: '10.1.0.2_47003' });
  t.match(att(del), { computer_state: 'done', computer_hosts: '10.1.0.2_47003;', computer_id: String(del) }, 'the hosts survive the node');
  conforms(t, del);
  t.end();
});

t.test('delete_node and delete_shard: storage_state and storage_hosts', (t) => {
  const node = Number(L.world.nodeAt('10.0.0.3', 57008)!.slice(5));
  const del = start('delete_node', { cluster_id: String(cluster), shard_id: String(shard1), hostaddr: '10.0.0.3', port: '57008' });
  t.match(att(del), { storage_state: 'prepare', storage_hosts: '10.0.0.3_57008;', shard_id: String(shard1) });
  step(del, 'uninstall_node');
  step(del, 'remove_node', '', () => L.must({ kind: 'node.delete', node }, SYS));
  finish(del);
  t.match(att(del), { storage_state: 'done', storage_hosts: '10.0.0.3_57008;' });
  conforms(t, del);

  const s2 = L.world.shardByName(cluster, 'shard_2')!.id;
  const ds = start('delete_shard', { cluster_id: String(cluster), shard_id: String(s2) });
  step(ds, 'mark_deleting');
  step(ds, 'uninstall_and_remove');
  finish(ds);
  t.match(att(ds), { storage_state: 'done', storage_hosts: hostsAt(57004), shard_id: String(s2) });
  conforms(t, ds);
  t.end();
});

t.test('manual_switch: job_step lists the declared steps, step is a name', (t) => {
  const nodes = L.world.nodesOf(shard1);
  for (const n of nodes) {
    L.must({ kind: 'node.set_health', node: n, health: 'alive', evidence: { observer: 'm1', summary: 'test', facts: {} } });
  }
  L.must({ kind: 'shard.set_primary', shard: shard1, node: nodes[0]!, term: 1 });
  const job = start('manual_switch', { cluster_id: String(cluster), shard_id: String(shard1), master_hostaddr: '10.0.0.1_57000' });
  begin(job, 'check');
  const a = att(job);
  t.equal(a.job_step, 'check,take_shard,switch,record', 'job_step: comma list in order');
  t.equal(a.step, 'check', 'step: the current step\'s name, not an object');
  t.same(a.job_step, JOB_DEFINITIONS.job('manual_switch')!.steps.join(','), 'from the definition');
  end(job, 'check');
  finish(job);
  conforms(t, job);
  t.end();
});

t.test('rebuild_node: only job_step and one "ip_port" key per node, each {status, step, error_code, error_info}', (t) => {
  const rb = (i: number) => ({ hostaddr: `10.0.0.${i}`, port: '57000', need_backup: '0', hdfs_host: '', pv_limit: '10' });
  const job = start('rebuild_node', { cluster_id: String(cluster), shard_id: String(shard1), allow_pull_from_master: '1', rb_nodes: [rb(2), rb(3)] });
  const keys = ['10.0.0.2_57000', '10.0.0.3_57000', 'job_step'];
  const steps = 'check_param,xtracback_data,checksum_data,recover_data,backup_old_data,rebuild_sync,done';
  t.same(Object.keys(att(job)).sort(), keys, 'accepted: nothing but job_step and the node keys (XPanel reads every other key as a node)');
  t.equal(att(job).job_step, steps);
  t.same(att(job)['10.0.0.2_57000'], { status: 'ongoing', step: 'check_param', error_code: '0', error_info: '' });
  begin(job, 'rebuild_first');
  const first = start('rb_shard_node', { node: L.world.nodesOf(shard1)[1]!, parent_step: 'rebuild_first' }, job);
  step(first, 'check_param', JSON.stringify({ source: '10.0.0.1:57000' }));
  begin(first, 'xtracback_data');
  t.match(att(job)['10.0.0.2_57000'], { status: 'ongoing', step: 'xtracback_data', error_code: '0', job_id: String(first), source: '10.0.0.1:57000' }, 'the first node: its current step');
  t.match(att(job)['10.0.0.3_57000'], { status: 'ongoing', step: 'check_param' }, 'the second waits');
  end(first, 'xtracback_data', JSON.stringify({ bytes: 1234, mb_per_s: 5.5 }));
  L.must({ kind: 'job.fail', job: first, code: 70023, info: 'cannot replicate' }, SYS);
  t.match(att(job)['10.0.0.2_57000'], { status: 'failed', step: 'xtracback_data', error_code: '70023', error_info: 'cannot replicate', bytes: '1234', mb_per_s: '5.5' });
  end(job, 'rebuild_first');
  L.must({ kind: 'job.fail', job, code: 70023, info: 'child failed' }, SYS);
  t.match(att(job)['10.0.0.3_57000'], { status: 'failed', error_code: '70023' }, 'a node never started fails with the job');
  t.same(Object.keys(att(job)).sort(), keys);
  conforms(t, job);
  t.end();
});

t.test('delete_cluster: the two parts with the hosts deleted', (t) => {
  const storage = L.world
    .shardsOf(cluster)
    .flatMap((sh) => L.world.nodesOf(sh))
    .map((id) => `${L.world.node(id)!.hostaddr}_${L.world.node(id)!.port};`)
    .join('');
  const job = start('delete_cluster', { cluster_id: String(cluster) });
  step(job, 'mark_deleting');
  begin(job, 'uninstall_and_remove');
  t.match(att(job), { storage_state: 'dispatch', computer_state: 'dispatch', job_steps: 'shard,computer' });
  end(job, 'uninstall_and_remove');
  finish(job, { cluster_id: cluster });
  const a = att(job);
  t.match(a, { storage_state: 'done', computer_state: 'done', job_steps: 'shard,computer', shard_id: String(job), computer_id: String(job) });
  t.same(a.shard_step, [{ storage_state: 'done', storage_hosts: storage, error_info: '' }], 'shard_step[0].storage_hosts "a;b;"');
  t.same(a.computer_step, [{ computer_state: 'done', computer_hosts: '10.1.0.1_47000;', computer_id: String(job), error_info: '' }]);
  conforms(t, job);
  t.end();
});
