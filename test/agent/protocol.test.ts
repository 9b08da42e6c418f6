// The agent's wire protocol, in process, without database servers: node_mgr's answer shape, and a table
// of malformed requests that must each be answered `failed` with a message naming the problem, while
// nothing changes on disk. Plus the client's errors (failed answer, refused connection, timeout, garbage).
import t from 'tap';
import { createServer, type Server } from 'node:net';
import { readdirSync, existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import { makeRunDir, freePort } from '../../src/launcher/index.js';
import { loadAgentConfig } from '../../src/agent/config.js';
import { runAgent, type RunningAgent } from '../../src/agent/server.js';
import { AgentClient, AgentError } from '../../src/agent/client.js';
import { createLogger } from '../../src/log/logger.js';
import { writeSecretFile } from '../../src/config/secret-file.js';
import { emit, emitRaw, registryOf, removeDir } from './helpers.js';

const SECRET = 'TopSecret-XYZ-42';
const dir = makeRunDir('agent-proto');
const base = `${dir}/base`;
const logLines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, cb) {
    logLines.push(chunk.toString());
    cb();
  },
});

let agent: RunningAgent;
let port = 0;
let blocker: Server;
let blockedPort = 0;

t.before(async () => {
  port = await freePort();
  const cfg = loadAgentConfig({
    sets: [`brpc_http_port=${port}`, `instance_base_dir=${base}`, 'max_body_bytes=65536', 'keepalive_interval_ms=200'],
  });
  agent = await runAgent(cfg, createLogger({ level: 'debug', stream: sink }));
  // Another program on a port: an install there must be refused.
  blockedPort = await freePort();
  blocker = createServer((s) => s.destroy());
  await new Promise<void>((r) => blocker.listen(blockedPort, '127.0.0.1', r));
});

t.teardown(async () => {
  await agent?.close();
  await new Promise<void>((r) => blocker?.close(() => r()));
  removeDir(dir);
});

t.test('ping_pong answers exactly like node_mgr: sorted keys, text/plain, ids echoed', async (t) => {
  const a = await emit(port, 'ping_pong', {});
  t.equal(a.http, 200);
  t.match(a.contentType, /^text\/plain/);
  t.equal(a.text, '{"cluster_mgr_request_id":"req-1","info":"success","status":"success","task_spec_info":"spec"}');
  const num = await emitRaw(port, '{"cluster_mgr_request_id":77,"job_type":"ping_pong","paras":[]}');
  t.equal(num.text, '{"cluster_mgr_request_id":"77","info":"success","status":"success","task_spec_info":""}',
    'a numeric id is echoed as a string, [] paras accepted, missing task_spec_info echoed empty');
  // The original manager's liveness ping: a default-constructed jsoncpp value serializes as null.
  const orig = await emitRaw(port, '{"cluster_mgr_request_id":"ping_pong","job_type":"ping_pong","paras":null,"task_spec_info":"ping_pong"}');
  t.equal(orig.text, '{"cluster_mgr_request_id":"ping_pong","info":"success","status":"success","task_spec_info":"ping_pong"}');
});

interface Bad {
  name: string;
  body: string | Buffer | null;
  info: RegExp;
  http?: number;
  /** The request id the answer must echo. */
  id?: string;
}

const env = (jobType: unknown, paras: unknown, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ cluster_mgr_request_id: 'bad-1', task_spec_info: 't', job_type: jobType, paras, ...extra });

const mysql = (paras: Record<string, unknown>): string =>
  env('install_mysql', { port: '23306', user: 'adm', password: SECRET, ...paras });

const pgOk = { pg_protocal_port: '25432', user: 'abc', password: SECRET, bind_address: '127.0.0.1' };

function table(): Bad[] {
  return [
    { name: 'not JSON', body: 'not json at all', info: /^request body is not valid JSON/, id: '' },
    { name: 'no body', body: null, info: /^request body is not valid JSON/, id: '' },
    { name: 'truncated JSON holding a password', body: `{"cluster_mgr_request_id":"1","paras":{"password":"${SECRET}"`, info: /not valid JSON/, id: '' },
    { name: 'a JSON array', body: '[1,2]', info: /must be a JSON object, got an array/, id: '' },
    { name: 'missing cluster_mgr_request_id', body: '{"job_type":"ping_pong","paras":{}}', info: /'cluster_mgr_request_id' field is missing/, id: '' },
    { name: 'missing paras', body: '{"cluster_mgr_request_id":"x","job_type":"ping_pong"}', info: /'paras' field missing/, id: 'x' },
    { name: 'missing job_type', body: '{"cluster_mgr_request_id":"x","paras":{}}', info: /job_type field missing/, id: 'x' },
    { name: 'request id is an object', body: '{"cluster_mgr_request_id":{"a":1},"job_type":"ping_pong","paras":{}}', info: /cluster_mgr_request_id must be a string or an integer, got an object/, id: '' },
    { name: 'task_spec_info is an object', body: env('ping_pong', {}, { task_spec_info: { a: 1 } }), info: /task_spec_info must be a string/ },
    { name: 'job_type is a number', body: env(5, {}), info: /job_type must be a job name .*got number 5/ },
    { name: 'job_type with shell text', body: env('install_mysql; rm -rf /', {}), info: /job_type must be a job name/ },
    { name: 'unknown job_type', body: env('drop_database', {}), info: /job_type no support: 'drop_database'/ },
    // Names of Object.prototype are no jobs (an own-property lookup, not "job.run is not a function").
    { name: 'job_type constructor', body: env('constructor', {}), info: /^job_type no support: 'constructor'$/ },
    { name: 'job_type __proto__', body: env('__proto__', {}), info: /^job_type no support: '__proto__'$/ },
    { name: 'paras with prototype keys', body: '{"cluster_mgr_request_id":"bad-1","task_spec_info":"t","job_type":"ping_pong","paras":{"__proto__":{"port":1},"constructor":{"prototype":{"x":1}}}}', info: /paras\.__proto__: not a field of ping_pong.*paras\.constructor: not a field/ },
    { name: 'paras nested 30,000 deep', body: `{"cluster_mgr_request_id":"1","job_type":"ping_pong","paras":{"a":${'['.repeat(30_000)}${']'.repeat(30_000)}}}`, info: /^request body: paras\.a(\[0\])+.*: JSON nested deeper than 32 levels$/, id: '' },
    { name: 'execute_command is refused', body: env('execute_command', { command_name: 'rm', command_para: ['-rf /'] }), info: /execute_command is not supported .*shell command strings/ },
    { name: 'paras is a string', body: env('ping_pong', 'x'), info: /paras must be a JSON object/ },
    { name: 'ping_pong with a stray field', body: env('ping_pong', { x: 1 }), info: /paras\.x: not a field of ping_pong/ },
    { name: 'install_mysql without port', body: env('install_mysql', { user: 'adm', password: SECRET }), info: /paras\.port: missing \(required by install_mysql\)/ },
    { name: 'port is a word', body: mysql({ port: 'abc' }), info: /paras\.port: got 'abc'; expected an integer from 1024 to 65535/ },
    { name: 'port out of range', body: mysql({ port: '70000' }), info: /paras\.port: got '70000'/ },
    { name: 'port is a fraction', body: mysql({ port: 3306.5 }), info: /paras\.port: got number 3306\.5/ },
    { name: 'port is negative', body: mysql({ port: '-1' }), info: /paras\.port: got '-1'/ },
    { name: 'port in hex', body: mysql({ port: '0x10' }), info: /paras\.port: got '0x10'/ },
    { name: 'port with a leading space', body: mysql({ port: ' 3306' }), info: /paras\.port: got ' 3306'/ },
    { name: 'port with leading zeros', body: mysql({ port: '03306' }), info: /paras\.port: got '03306'/ },
    { name: 'privileged port', body: mysql({ port: 80 }), info: /paras\.port: got number 80; expected an integer from 1024/ },
    { name: 'port is a path traversal', body: mysql({ port: '../../etc/passwd' }), info: /paras\.port: got '\.\.\/\.\.\/etc\/passwd'/ },
    { name: 'port is an array', body: mysql({ port: [3306] }), info: /paras\.port: got an array/ },
    { name: 'a data dir of its own choosing', body: mysql({ datadir: '../../etc' }), info: /paras\.datadir: not a field of install_mysql/ },
    { name: 'user with SQL injection', body: mysql({ user: "root'@'%' --" }), info: /paras\.user: got 'root\\u0027@\\u0027%\\u0027 --'; expected an account name/ },
    { name: 'user without password', body: env('install_mysql', { port: '23306', user: 'adm' }), info: /give both or neither/ },
    { name: 'password with a line break', body: mysql({ password: `a\n${SECRET}` }), info: /paras\.password: must be 1 to 128 printable characters/ },
    { name: 'password is a number', body: mysql({ password: 12345 }), info: /paras\.password: got number 12345; expected a string/ },
    { name: 'buffer size with SQL', body: mysql({ innodb_buffer_size_M: '1; DROP TABLE x' }), info: /paras\.innodb_buffer_size_M: got '1; DROP TABLE x'/ },
    { name: 'is_master is a word', body: mysql({ is_master: 'yes' }), info: /paras\.is_master: got 'yes'; expected '0' or '1'/ },
    { name: 'mgr_uuid is not a UUID', body: mysql({ mgr_uuid: 'not-a-uuid' }), info: /paras\.mgr_uuid: got 'not-a-uuid'; expected empty or a UUID/ },
    { name: 'command_name is a path', body: mysql({ command_name: '../../bin/sh' }), info: /paras\.command_name: got '\.\.\/\.\.\/bin\/sh'/ },
    { name: 'command_name with shell text', body: mysql({ command_name: 'install.py; rm -rf /' }), info: /paras\.command_name: got 'install\.py; rm -rf \/'/ },
    { name: 'server_id zero', body: mysql({ server_id: 0 }), info: /paras\.server_id: got number 0/ },
    { name: 'several problems at once', body: mysql({ port: 'x', is_master: '2', db_cfg: 'a' }), info: /paras\.port: .*; paras\.db_cfg: .*; paras\.is_master: / },
    { name: 'install on the agent\'s own port', body: () => mysql({ port }), info: /is this agent's own HTTP port/ },
    { name: 'install on a port another program uses', body: () => mysql({ port: blockedPort }), info: /is in use by another program/ },
    { name: 'install without any account', body: env('install_mysql', { port: '23306' }), info: /paras\.user: missing, and the agent has no default_storage_accounts/ },
    { name: 'install_postgres without credentials', body: env('install_postgres', { pg_protocal_port: '25432' }), info: /paras\.user: missing .*paras\.password: missing .*paras\.bind_address: missing/ },
    { name: 'install_postgres on a foreign address', body: env('install_postgres', { ...pgOk, bind_address: '10.255.255.1' }), info: /paras\.bind_address: 10\.255\.255\.1 is not an address of this machine/ },
    { name: 'bind_address with shell text', body: env('install_postgres', { ...pgOk, bind_address: '127.0.0.1; touch /tmp/x' }), info: /paras\.bind_address: got '127\.0\.0\.1; touch \/tmp\/x'/ },
    { name: 'postgres user with a quote', body: env('install_postgres', { ...pgOk, user: 'a"b' }), info: /paras\.user: got 'a b'/ },
    { name: 'uninstall port with traversal', body: env('uninstall_mysql', { port: '1024/../..' }), info: /paras\.port: got '1024\/\.\.\/\.\.'/ },
    { name: 'control_instance unknown type', body: env('control_instance', { type: 'mysql', control: 'stop', ip: '127.0.0.1', port: 23306 }), info: /paras\.type: got 'mysql'; expected one of 'storage', 'computer'/ },
    { name: 'control_instance unknown action', body: env('control_instance', { type: 'storage', control: 'kill', ip: '127.0.0.1', port: 23306 }), info: /paras\.control: got 'kill'/ },
    { name: 'control_instance foreign ip', body: env('control_instance', { type: 'storage', control: 'stop', ip: '10.255.255.1', port: 23306 }), info: /paras\.ip: 10\.255\.255\.1 is not an address of this machine/ },
    { name: 'control_instance of nothing', body: env('control_instance', { type: 'storage', control: 'stop', ip: '127.0.0.1', port: 23306 }), info: /no storage \(MySQL\) instance is installed on port 23306/ },
    { name: 'kill_mysql of nothing', body: env('kill_mysql', { port: '23306' }), info: /no storage \(MySQL\) instance is installed on port 23306/ },
    { name: 'set_keepalive with a bad value', body: env('set_keepalive', { port: 23306, keepalive: 'maybe' }), info: /paras\.keepalive: got 'maybe'; expected 'on' or 'off'/ },
    { name: 'set_keepalive of nothing', body: env('set_keepalive', { port: 23306, keepalive: 'off' }), info: /no instance is installed on port 23306/ },
    { name: 'list_instances with a stray field', body: env('list_instances', { all: true }), info: /paras\.all: not a field of list_instances/ },
    { name: 'huge body', body: Buffer.alloc(200_000, 'x'), info: /request body is larger than 65536 bytes/, http: 413, id: '' },
  ] as unknown as Bad[];
}

t.test('malformed requests: each answered failed with a clear message, nothing changed', async (t) => {
  const before = readdirSync(base).sort();
  for (const c of table()) {
    const raw = typeof c.body === 'function' ? (c.body as () => string)() : c.body;
    const a = await emitRaw(port, raw);
    t.equal(a.http, c.http ?? 200, `${c.name}: HTTP status`);
    t.match(a.contentType, /^text\/plain/, `${c.name}: text/plain`);
    t.ok(a.json, `${c.name}: the answer is JSON`);
    t.equal(a.json?.status, 'failed', `${c.name}: status failed`);
    t.match(String(a.json?.info), c.info, `${c.name}: ${String(a.json?.info)}`);
    t.equal(a.json?.cluster_mgr_request_id, c.id ?? 'bad-1', `${c.name}: request id echoed`);
    t.notOk(a.text.includes(SECRET), `${c.name}: the password is not in the answer`);
  }
  t.same(readdirSync(base).sort(), before, 'the base dir is unchanged');
  t.notOk(existsSync(registryOf(base)), 'no registry was written');
  t.same(agent.agent.registry.all(), [], 'no instance is registered');
  t.notOk(logLines.join('').includes(SECRET), 'the password never reached the log');
  t.ok(logLines.some((l) => l.includes('"job finished"') && l.includes('install_mysql')), 'jobs were logged');
});

t.test('install answers carry node_mgr\'s Extra, also when failed', async (t) => {
  const a = await emit(port, 'install_mysql', { port: blockedPort, user: 'adm', password: SECRET });
  t.equal(a.json?.Extra, `127.0.0.1_${blockedPort}`);
  // A blocked port: this agent's `reason` joins node_mgr's keys, still in byte order.
  t.equal(Object.keys(a.json!).join(','), 'Extra,cluster_mgr_request_id,info,reason,status,task_spec_info', 'jsoncpp key order');
  t.equal(a.json?.reason, 'port_in_use');
  const pg = await emit(port, 'install_postgres', { ...pgOk, pg_protocal_port: String(blockedPort) });
  t.equal(pg.json?.Extra, `127.0.0.1_${blockedPort}`);
  const un = await emit(port, 'uninstall_mysql', { port: '23306' });
  t.match(un.json, { status: 'success', info: 'no instance on port 23306; nothing to uninstall', Extra: '127.0.0.1_23306' },
    'uninstalling what is not there is done already');
});

t.test('client: typed calls, and errors that name the agent and the job', async (t) => {
  const c = new AgentClient({ host: '127.0.0.1', port });
  await c.ping();
  const list = await c.listInstances();
  t.same(list, { local_ip: '127.0.0.1', keepalive_enabled: true, instances: [], ...(list.ephemeral_ports !== undefined ? { ephemeral_ports: list.ephemeral_ports } : {}) });
  t.match(list.ephemeral_ports ?? '32768-60999', /^\d+-\d+$/, 'the ephemeral range as lo-hi');

  const e1 = await c.controlInstance({ type: 'storage', control: 'stop', ip: '127.0.0.1', port: 23306 }).catch((e: unknown) => e);
  t.type(e1, AgentError);
  t.match(e1, { kind: 'failed', jobType: 'control_instance', agent: `127.0.0.1:${port}` });
  t.match((e1 as Error).message, new RegExp(`^agent 127\\.0\\.0\\.1:${port}: control_instance failed: no storage`));

  const closed = await freePort();
  const e2 = await new AgentClient({ host: '127.0.0.1', port: closed }).ping().catch((e: unknown) => e);
  t.match(e2, { kind: 'network', jobType: 'ping_pong' });
  t.match((e2 as Error).message, new RegExp(`^agent 127\\.0\\.0\\.1:${closed}: ping_pong: cannot reach the agent: ECONNREFUSED`));

  // A server that accepts and never answers: the call ends at its timeout.
  const silentPort = await freePort();
  const silent = createServer(() => {});
  await new Promise<void>((r) => silent.listen(silentPort, '127.0.0.1', r));
  const t0 = Date.now();
  const e3 = await new AgentClient({ host: '127.0.0.1', port: silentPort }).ping({ timeoutMs: 300 }).catch((e: unknown) => e);
  t.match(e3, { kind: 'timeout', jobType: 'ping_pong' });
  t.match((e3 as Error).message, /ping_pong timed out after 300 ms/);
  t.ok(Date.now() - t0 < 3_000, 'the timeout is kept');
  silent.close();

  // Something that is not an agent.
  const garbagePort = await freePort();
  const garbage = createServer((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello'));
  await new Promise<void>((r) => garbage.listen(garbagePort, '127.0.0.1', r));
  const e4 = await new AgentClient({ host: '127.0.0.1', port: garbagePort }).ping().catch((e: unknown) => e);
  t.match(e4, { kind: 'protocol' });
  t.match((e4 as Error).message, /ping_pong: bad answer \(HTTP 200\): not JSON: hello/);
  garbage.close();
});

t.test('access control: allowed_clients and api_token refuse other callers before any job', async (t) => {
  const mk = async (name: string, sets: string[]): Promise<{ a: RunningAgent; port: number }> => {
    const p = await freePort();
    const cfg = loadAgentConfig({ sets: [`brpc_http_port=${p}`, `instance_base_dir=${dir}/${name}`, ...sets] });
    return { a: await runAgent(cfg, createLogger({ level: 'error', stream: sink })), port: p };
  };
  const fenced = await mk('fenced', ['allowed_clients=10.9.9.9']);
  t.teardown(() => fenced.a.close());
  const r1 = await emit(fenced.port, 'ping_pong', {});
  t.equal(r1.http, 403);
  t.match(r1.json, { status: 'failed', info: "caller 127.0.0.1 is not in the agent's allowed_clients" });

  writeSecretFile(`${dir}/agent-token`, `${SECRET}\n`);
  const tokened = await mk('tokened', [`api_token_file=${dir}/agent-token`, 'allowed_clients=127.0.0.1']);
  t.teardown(() => tokened.a.close());
  const r2 = await emit(tokened.port, 'ping_pong', {});
  t.equal(r2.http, 401);
  t.match(r2.json, { status: 'failed', info: /missing or wrong bearer token/ });
  const wrong = await new AgentClient({ host: '127.0.0.1', port: tokened.port, token: 'nope' }).ping().catch((e: unknown) => e);
  t.match(wrong, { kind: 'failed' }, 'a wrong token is refused');
  await new AgentClient({ host: '127.0.0.1', port: tokened.port, token: SECRET }).ping();
  t.pass('the right token is accepted');
  t.notOk(logLines.join('').includes(SECRET), 'the token never reached the log');
});
