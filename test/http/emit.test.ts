// The compatible Emit endpoint's envelope handling and validation, through HTTP (fastify inject). The
// backend records every call: a rejected request must never reach it.
import t from 'tap';
import Fastify from 'fastify';
import { registerEmit, type EmitBackend, type ValidatedJob } from '../../src/http/emit-route.js';
import { errorMessage, MESSAGE_COUNT } from '../../src/http/error-codes.js';
import { JOB_DEFINITIONS } from '../../src/jobs/types/index.js';

const JOB_TYPES = JOB_DEFINITIONS.served();
import { parasJsonSchema } from '../../src/actors/commands/paras-spec.js';

const calls: ValidatedJob[] = [];
const backend: EmitBackend = {
  submit: (job) => {
    calls.push(job);
    return Promise.resolve({ jobId: String(100 + calls.length) });
  },
  sync: (job) => {
    calls.push(job);
    if (job.jobType === 'get_status') {
      return Promise.resolve(
        job.envelope.job_id === '101'
          ? { status: 'done', error_code: 0, error_info: 'OK', job_id: '101', job_type: 'create_cluster', attachment: { cluster_id: '3' } }
          : { status: 'failed', error_code: 70104, error_info: `job ${job.envelope.job_id} is unknown`, job_id: job.envelope.job_id, job_type: '' },
      );
    }
    return Promise.resolve({ status: 'done', attachment: { mode: 'rbr' } });
  },
};
const app = Fastify();
registerEmit(app, backend);
t.teardown(() => app.close());

async function emit(payload: string | object, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const res = await app.inject({ method: 'POST', url: '/HttpService/Emit', payload: typeof payload === 'string' ? payload : JSON.stringify(payload), headers });
  return { res, body: JSON.parse(res.body) as Record<string, unknown>, raw: res.body };
}
const env = (job_type: string, paras: unknown) => ({ version: '1.0', job_id: '', job_type, timestamp: '1', user_name: 'kunlun_test', paras });
const goodCluster = { ha_mode: 'rbr', shards: '2', nodes: '3', comps: '1', max_storage_size: '20', max_connections: '6', cpu_cores: '8', innodb_size: '1', dbcfg: '1', nick_name: 'c1' };

t.test('an async job answers accept with a job id; the body is sorted compact JSON with a newline', async (t) => {
  const { res, body, raw } = await emit(env('create_cluster', goodCluster));
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
  t.equal(res.headers['access-control-allow-origin'], undefined, 'no "*" grant (the original sent one)');
  t.same(body, { attachment: null, error_code: '0', error_info: '', job_id: '101', status: 'accept', version: '1.0' });
  t.equal(raw, '{"attachment":null,"error_code":"0","error_info":"","job_id":"101","status":"accept","version":"1.0"}\n');
  const job = calls.at(-1)!;
  t.same(job.paras, { ...goodCluster, shards: 2, nodes: 3, comps: 1, max_storage_size: 20, max_connections: 6, cpu_cores: 8, innodb_size: 1, dbcfg: 1, computer_user: 'abc', computer_password: 'abc' });
});

t.test('numbers are accepted as JSON numbers too, and PHP\'s [] means empty paras', async (t) => {
  const { body } = await emit(env('create_cluster', { ...goodCluster, shards: 2, nodes: 3 }));
  t.equal(body.status, 'accept');
  const s = await emit({ job_type: 'get_status', job_id: '101', version: '1.0', paras: [] });
  t.match(s.body, { status: 'done', error_code: '0', job_id: '101', job_type: 'create_cluster', attachment: { cluster_id: '3' } });
  const unknown = await emit({ job_type: 'get_status', job_id: '999', paras: {} });
  t.match(unknown.body, { status: 'failed', error_code: '70104', job_id: '999' });
});

t.test('a sync job lifts status, error_code, error_info, job_id, job_type out of the attachment', async (t) => {
  const { body } = await emit({ job_type: 'get_meta_mode', version: '1.0', paras: {} });
  t.same(body, { attachment: { mode: 'rbr' }, error_code: '0', error_info: '', job_id: '', job_type: 'get_meta_mode', status: 'done', version: '1.0' });
});

t.test('malformed requests answer failed, name the problem, and never reach the backend', async (t) => {
  const before = calls.length;
  const huge = JSON.stringify(env('create_cluster', { ...goodCluster, nick_name: 'x'.repeat(2 * 1024 * 1024) }));
  const cases: [string, string | object, string, RegExp][] = [
    ['bad JSON', '{"job_type":', '70001', /JSON parse error/],
    ['not an object', '[1,2]', '70001', /must be a JSON object/],
    ['no job_type', { version: '1.0', paras: {} }, '70001', /missing `job_type`/],
    ['empty job_type', { job_type: '', paras: {} }, '70001', /non empty valid string/],
    ['unknown job_type', { job_type: 'drop_everything', paras: {} }, '70001', /^Unrecongnized job type: job_type: "drop_everything" is not a job type/],
    ['dead job_type', { job_type: 'backup_cluster', paras: {} }, '70001', /not supported/],
    ['internal job_type (no route)', { job_type: 'internal_add_comps', paras: {} }, '70001', /^Unrecongnized job type: job_type: "internal_add_comps"/],
    ['refused in this version', { job_type: 'table_repartition', paras: {} }, '70001', /^table_repartition: job_type: is not supported by this cluster_mgr: repartitioning .*not available in this version/],
    ['missing paras', { job_type: 'create_cluster' }, '70070', /^create_cluster: paras: is missing$/],
    ['paras not an object', env('create_cluster', 'x'), '70070', /^create_cluster: paras: must be a JSON object$/],
    ['missing ha_mode', env('create_cluster', { ...goodCluster, ha_mode: undefined }), '70071', /^create_cluster: paras\.ha_mode: is required$/],
    ['bad ha_mode', env('create_cluster', { ...goodCluster, ha_mode: 'raft' }), '70071', /^create_cluster: paras\.ha_mode: must be one of rbr, mgr, no_rep, got "raft"$/],
    ['shards not digits (the original: 70072 missing or not digits, 70073 out of range)', env('create_cluster', { ...goodCluster, shards: 'two' }), '70072', /^create_cluster: paras\.shards: must be a whole number/],
    ['shards out of range', env('create_cluster', { ...goodCluster, shards: '300' }), '70073', /^create_cluster: paras\.shards: must be from 1 to 256, got 300$/],
    ['negative nodes', env('create_cluster', { ...goodCluster, nodes: -1 }), '70075', /^create_cluster: paras\.nodes: must be from 1 to 256/],
    ['float comps', env('create_cluster', { ...goodCluster, comps: 1.5 }), '70076', /^create_cluster: paras\.comps: must be a whole number/],
    ['injection in an ip list', env('create_cluster', { ...goodCluster, storage_iplists: ["10.0.0.1'; DROP TABLE db_clusters; --"] }), '70181', /^create_cluster: paras\.storage_iplists\[0\]: must be a host name or IP address/],
    ['shell in a host', env('create_machine', { hostaddr: '$(rm -rf /)', machine_type: 'storage', total_mem: '1', total_cpu_cores: '1' }), '70052', /^create_machine: paras\.hostaddr: must be a host name/],
    ['path traversal is not absolute', env('create_machine', { hostaddr: 'h1', machine_type: 'storage', datadir: '../../etc', total_mem: '1', total_cpu_cores: '1' }), '70054', /^create_machine: paras\.datadir: must be an absolute path/],
    ['computer_user injection', env('create_cluster', { ...goodCluster, computer_user: "abc'--" }), '70005', /^create_cluster: paras\.computer_user: must be a user name/],
    ['bad host_port', env('manual_switch', { cluster_id: '1', shard_id: '1', master_hostaddr: '10.0.0.1:3306' }), '70026', /^manual_switch: paras\.master_hostaddr: must be "host_port"/],
    ['port out of range', env('delete_node', { cluster_id: '1', shard_id: '1', hostaddr: 'h', port: '70000' }), '70171', /^delete_node: paras\.port: must be from 1 to 65535/],
    ['control characters', env('create_cluster', { ...goodCluster, nick_name: 'a\u0000b' }), '70005', /^create_cluster: paras\.nick_name: must not contain control characters$/],
    ['huge body', huge, '70001', /request body larger than 1048576 bytes/],
    // Names on Object.prototype are no job types, and a request's own keys never reach the prototype.
    ['job_type constructor', { job_type: 'constructor', paras: {} }, '70001', /^Unrecongnized job type: job_type: "constructor" is not a job type/],
    ['job_type __proto__', { job_type: '__proto__', paras: {} }, '70001', /^Unrecongnized job type: job_type: "__proto__" is not a job type/],
    ['job_type toString', { job_type: 'toString', paras: {} }, '70001', /^Unrecongnized job type: job_type: "toString" is not a job type/],
    ['paras with __proto__ holding the fields', '{"job_type":"create_machine","paras":{"__proto__":{"hostaddr":"h1","machine_type":"storage","total_mem":"1","total_cpu_cores":"1"}}}', '70052', /^create_machine: paras\.hostaddr: is required$/],
    ['a field nested 100,000 deep', `{"job_type":"create_cluster","paras":{"ha_mode":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`, '70001', /^create_cluster: paras\.ha_mode(\[0\])+…?: JSON nested deeper than 32 levels$/],
    // One limit per value: the metadata column (comp_nodes.passwd varchar(16), db_clusters.nick_name varchar(120)).
    ['computer_password longer than comp_nodes.passwd', env('create_cluster', { ...goodCluster, computer_password: 'p'.repeat(17) }), '70005', /^create_cluster: paras\.computer_password: must be at most 16 characters, got 17$/],
    ['nick_name longer than db_clusters.nick_name', env('create_cluster', { ...goodCluster, nick_name: 'n'.repeat(121) }), '70005', /^create_cluster: paras\.nick_name: must be at most 120 characters, got 121$/],
    ['update_machine without hostaddr', env('update_machine', { machine_type: 'storage' }), '70052', /^update_machine: paras\.hostaddr: is required$/],
  ];
  for (const [name, payload, code, re] of cases) {
    const { res, body } = await emit(payload);
    t.equal(res.statusCode, 200, `${name}: HTTP 200`);
    t.equal(body.status, 'failed', `${name}: failed`);
    t.equal(body.error_code, code, `${name}: error code ${code}`);
    t.match(String(body.error_info), re, `${name}: ${String(body.error_info)}`);
    t.equal(body.attachment, null, `${name}: attachment null`);
  }
  t.equal(calls.length, before, 'no rejected request reached the backend');
});

t.test('GET and OPTIONS', async (t) => {
  const g = await app.inject({ method: 'GET', url: '/HttpService/Emit' });
  t.match(JSON.parse(g.body), { status: 'failed', error_code: '70001' });
  const o = await app.inject({ method: 'OPTIONS', url: '/HttpService/Emit' });
  t.equal(o.statusCode, 200);
  t.equal(o.headers['access-control-allow-origin'], undefined, 'no cross-origin grant (cors.ts gives it to listed origins only)');
});

t.test('a body without content type, or text/plain, is read the same', async (t) => {
  for (const headers of [{ 'content-type': 'text/plain' }, {}] as Record<string, string>[]) {
    const { body } = await emit(JSON.stringify(env('get_meta_mode', {})), headers);
    t.equal(body.status, 'done');
  }
});

t.test('every job type has a JSON schema and the error table matches the original numbering', (t) => {
  for (const [name, def] of Object.entries(JOB_TYPES)) t.equal((parasJsonSchema(def.paras) as { type: string }).type, 'object', name);
  t.equal(errorMessage(70000), 'OK');
  t.equal(errorMessage(70071), 'Create cluster job miss ha_mode in the request body');
  t.equal(errorMessage(70174), 'Delete shard job get just only one shard');
  t.equal(errorMessage(70203), 'Delete node_exporter to prometheus failed');
  t.equal(MESSAGE_COUNT, 204);
  t.end();
});
