// Every job type is defined once and completely (src/jobs/types), and every job type of the original
// (cluster_mgr-api.md §2 registry, §3.27 internal jobs, §10 types of 1.1/1.2 and XPanel) is either
// defined or refused with a stated reason.
import t from 'tap';
import { attachmentKeys, JobDefinitions, openApiSchema, type JobDefinition } from '../../src/jobs/definition.js';
import { JOB_DEFINITIONS } from '../../src/jobs/types/index.js';
import { TABLES } from '../../src/metadata/schema-spec.js';
import { validateParas } from '../../src/actors/commands/paras-spec.js';

/** The original's job type names, as the reference lists them (copied here: the test stands alone). */
const ORIGINAL = {
  // §2: every string GetReqTypeEnumByStr recognises.
  registry: [
    'create_cluster', 'delete_cluster', 'add_shards', 'delete_shard', 'add_comps', 'delete_comp', 'add_nodes', 'delete_node',
    'rebuild_node', 'expand_cluster', 'cluster_restore', 'manual_backup_cluster', 'update_cluster_coldback_time_period',
    'create_machine', 'update_machine', 'delete_machine', 'create_backup_storage', 'update_backup_storage', 'delete_backup_storage',
    'control_instance', 'raft_mission', 'example_mission', 'rename_cluster', 'backup_cluster', 'update_prometheus',
    'postgres_exporter', 'mysqld_exporter', 'get_status', 'get_meta_mode', 'get_meta_summary', 'get_backup_storage',
    'get_cluster_detail', 'get_expand_table_list', 'get_variable', 'set_variable', 'cluster_debug',
  ],
  // §2 / §3.27: internal job types (never accepted over HTTP).
  internal: [
    'internal_add_shard', 'internal_add_comps', 'internal_del_shard', 'internal_del_comp', 'internal_rebuild_hosts', 'rb_shard_node',
    'shard_install', 'shard_uninstall', 'compute_install', 'compute_uninstall', 'shard_coldbackup', 'compute_coldbackup',
  ],
  // §10: used by tests or XPanel, not in the 1.0 source.
  later: [
    'manual_switch', 'set_noswitch', 'list_noswitch', 'del_noswitch', 'update_instance_cgroup', 'logical_backup', 'logical_restore',
    'table_repartition', 'create_rcr', 'delete_rcr', 'modify_rcr', 'manualsw_rcr', 'get_cluster_summary', 'restore_new_cluster',
    'get_machine_summary', 'set_machine', 'get_meta',
  ],
};

const TABLE_NAMES = new Set(TABLES.map((x) => x.name));

t.test('every job type of the original is defined or refused with a reason', (t) => {
  for (const name of [...ORIGINAL.registry, ...ORIGINAL.later]) {
    const d = JOB_DEFINITIONS.get(name);
    t.ok(d !== undefined && !d.internal, `${name} is a public type here`);
  }
  for (const name of ORIGINAL.internal) t.equal(JOB_DEFINITIONS.get(name)?.internal, true, `${name} is internal (no route)`);
  for (const d of JOB_DEFINITIONS.all) {
    if (d.kind === 'refused') t.ok(d.refused.length > 20, `${d.name} says why it is refused`);
  }
  t.end();
});

t.test('every definition is complete', (t) => {
  const complete = (d: JobDefinition): string[] => {
    const bad: string[] = [];
    if (!/^[a-z_]+$/.test(d.name)) bad.push('name');
    if (d.summary.length < 10) bad.push('summary');
    if (!(d.missingParas >= 70000 && d.missingParas < 71000)) bad.push('missingParas');
    if (typeof d.paras !== 'object') bad.push('paras');
    for (const [field, f] of Object.entries(d.paras)) {
      // Every field's codes are the original's numbers (70000 + n).
      for (const code of [f.missing, f.bad, 'range' in f ? f.range : undefined]) if (code !== undefined && !(code >= 70000 && code < 71000)) bad.push(`paras.${field} code ${code}`);
    }
    if (d.kind === 'refused') return bad;
    if (d.attachment.description.length < 5) bad.push('attachment.description');
    for (const [k, s] of Object.entries(d.attachment.keys)) if (s.type === undefined) bad.push(`attachment.keys.${k} has no type`);
    if (d.kind === 'query') return bad;
    if (d.steps.length === 0) bad.push('steps');
    if (new Set(d.steps).size !== d.steps.length) bad.push('steps are not unique');
    if (d.steps.some((s) => s === 'failed' || s === 'rollback')) bad.push('steps: failed and rollback are the engine\'s');
    if (typeof d.run !== 'function') bad.push('run');
    if (d.internal === (d.accept !== undefined)) bad.push(d.internal ? 'an internal type has an accept (it has no route)' : 'accept');
    for (const w of d.writes) if (!TABLE_NAMES.has(w)) bad.push(`writes ${w}: not a table of kunlun_metadata_db`);
    return bad;
  };
  for (const d of JOB_DEFINITIONS.all) t.same(complete(d), [], `${d.name} (${d.kind})`);
  t.ok(JOB_DEFINITIONS.all.filter((d) => d.kind === 'job').every((d) => d.kind === 'job' && (d.writes.length > 0 || d.name === 'set_variable')), 'only set_variable writes no metadata table');
  t.end();
});

t.test('names are unique: the catalog refuses a second definition of a type', (t) => {
  t.equal(new Set(JOB_DEFINITIONS.all.map((d) => d.name)).size, JOB_DEFINITIONS.all.length);
  t.throws(() => JOB_DEFINITIONS.with([JOB_DEFINITIONS.get('add_comps')!]), /job type add_comps is defined twice/);
  t.throws(() => new JobDefinitions([JOB_DEFINITIONS.get('get_status')!, JOB_DEFINITIONS.get('get_status')!]), /defined twice/);
  t.end();
});

t.test('lookups are own properties: constructor or __proto__ is no job type', (t) => {
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) t.equal(JOB_DEFINITIONS.get(name), undefined, name);
  t.end();
});

t.test("the paras spec keeps the original's two numbers of a count: 70072 absent or not digits, 70073 out of range", (t) => {
  const d = JOB_DEFINITIONS.get('create_cluster')!;
  const base = { ha_mode: 'rbr', shards: '1', nodes: '1', comps: '1', max_storage_size: '1', max_connections: '1', cpu_cores: '1', innodb_size: '1' };
  t.match(validateParas({ ...base, shards: 'two' }, d.paras, d.missingParas), { ok: false, error: { code: 70072, field: 'paras.shards' } });
  t.match(validateParas({ ...base, shards: '300' }, d.paras, d.missingParas), { ok: false, error: { code: 70073, field: 'paras.shards' } });
  t.match(validateParas({ ...base, innodb_size: '0' }, d.paras, d.missingParas), { ok: false, error: { code: 70082 } });
  t.match(validateParas(undefined, d.paras, d.missingParas), { ok: false, error: { code: 70070, field: 'paras' } });
  t.end();
});

t.test('the OpenAPI form of the attachments is standard JSON Schema (no suffix or optional keywords)', (t) => {
  for (const d of JOB_DEFINITIONS.all) {
    const text = JSON.stringify(openApiSchema({ type: 'object', properties: attachmentKeys(d) }));
    t.notMatch(text, /"suffix"|"optional"/, d.name);
  }
  const hosts = openApiSchema({ type: 'object', properties: attachmentKeys(JOB_DEFINITIONS.get('add_comps')!) }).properties as Record<string, { pattern?: string }>;
  t.equal(hosts.computer_hosts?.pattern, '(^$|;$)', 'computer_hosts: empty or ends with ";"');
  t.end();
});
