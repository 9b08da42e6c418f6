// Who may call a node agent: off loopback it refuses to start open; a token comes from a 0600 file or
// the environment; calls without or with a wrong token are refused (401, node_mgr's answer shape) and
// logged, a few lines a minute per caller, never with the token; the manager sends agent_token_file;
// and the agent can serve HTTPS, which the manager reaches with agent_tls_ca_file.
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import t from 'tap';
import { AgentClient } from '../../src/agent/client.js';
import { loadAgentConfig } from '../../src/agent/config.js';
import { runAgent } from '../../src/agent/server.js';
import { loadConfig } from '../../src/config/load.js';
import { memberSecrets } from '../../src/config/member-secrets.js';
import { writeSecretFile } from '../../src/config/secret-file.js';
import { freePort, makeRunDir } from '../../src/launcher/index.js';
import { createLogger } from '../../src/log/logger.js';
import { emit, emitRaw, removeDir } from './helpers.js';
import { JOBS, UNSUPPORTED } from '../../src/agent/jobs.js';

const TOKEN = 'agent-token-7f3a9c1e5b';
const dir = makeRunDir('agent-access');
t.teardown(() => removeDir(dir));
const lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _e, cb) {
    lines.push(chunk.toString());
    cb();
  },
});

t.test('off loopback the agent refuses to start open; with a token or an allow-list it starts', (t) => {
  t.throws(() => loadAgentConfig({ sets: ['local_ip=10.1.2.3'] }), /the agent would serve every caller on 10\.1\.2\.3: set api_token_file/);
  t.throws(() => loadAgentConfig({ sets: ['http_bind=0.0.0.0'] }), /would serve every caller on 0\.0\.0\.0/);
  t.ok(loadAgentConfig({ sets: ['local_ip=10.1.2.3', 'allowed_clients=10.1.2.1'] }), 'an allow-list (an original cluster_mgr) is enough');
  t.equal(loadAgentConfig({ sets: ['local_ip=10.1.2.3'], env: { CLUSTER_MGR_AGENT_API_TOKEN: TOKEN } }).apiToken, TOKEN, 'token from the environment');
  t.ok(loadAgentConfig({}), 'open on loopback (warned at start)');
  t.end();
});

t.test('a token file others may read is reported; an empty one stops the start', (t) => {
  const f = `${dir}/loose-token`;
  writeSecretFile(f, `${TOKEN}\n`);
  chmodSync(f, 0o644);
  const warnings: string[] = [];
  t.equal(loadAgentConfig({ sets: [`api_token_file=${f}`], warn: (w) => warnings.push(w) }).apiToken, TOKEN, 'trailing new line dropped');
  t.match(warnings.join('\n'), /api_token_file: .*loose-token holds a secret but is mode 0644/);
  writeSecretFile(`${dir}/empty`, '');
  t.throws(() => loadAgentConfig({ sets: [`api_token_file=${dir}/empty`] }), /api_token_file: .*empty is empty/);
  t.end();
});

t.test('calls without or with a wrong token are refused and logged (rate-limited, never the token); the manager\'s token works', async (t) => {
  const tokenFile = `${dir}/agent-token`;
  writeSecretFile(tokenFile, `${TOKEN}\n`);
  const port = await freePort();
  const a = await runAgent(loadAgentConfig({ sets: [`brpc_http_port=${port}`, `instance_base_dir=${dir}/base`, `api_token_file=${tokenFile}`] }), createLogger({ level: 'info', stream: sink }));
  t.teardown(() => a.close());

  const none = await emit(port, 'kill_mysql', { port: '3306' });
  t.equal(none.http, 401);
  t.match(none.json, { status: 'failed', info: /missing or wrong bearer token/ });
  const wrong = await new AgentClient({ host: '127.0.0.1', port, token: 'not-the-token' }).ping().catch((e: unknown) => e);
  t.match(wrong, { kind: 'failed', info: /missing or wrong bearer token/ });
  // Every call the agent answers (and every node_mgr call it knows but refuses): no token, a wrong
  // one, a token sent the wrong way: all refused before the call is looked at.
  for (const job of [...Object.keys(JOBS), ...Object.keys(UNSUPPORTED)]) {
    const body = JSON.stringify({ cluster_mgr_request_id: 'r', task_spec_info: 's', job_type: job, paras: {} });
    for (const [how, headers] of [['no token', {}], ['a wrong token', { authorization: 'Bearer not-the-token' }], ['the token without Bearer', { authorization: TOKEN }]] as const) {
      const a = await emitRaw(port, body, { 'content-type': 'application/json', ...headers });
      t.equal(a.http, 401, `${job} with ${how}: 401`);
    }
  }
  for (let i = 0; i < 30; i++) await emit(port, 'ping_pong', {});
  const refusals = lines.filter((l) => l.includes('refused a caller'));
  t.ok(refusals.length >= 2 && refusals.length <= 5, `many refused calls, ${refusals.length} log lines`);
  t.match(refusals[0], /"client":"127\.0\.0\.1"/);

  // The manager's side: agent_token_file in its configuration.
  const mgrTokenFile = `${dir}/manager-agent-token`;
  writeSecretFile(mgrTokenFile, `${TOKEN}\n`);
  const cfg = loadConfig({ env: {}, sets: [`agent_token_file=${mgrTokenFile}`, 'nats_url='] });
  await new AgentClient({ host: '127.0.0.1', port, ...memberSecrets(cfg).agent }).ping();
  t.pass('the manager\'s token is accepted');
  t.notOk(lines.join('').includes(TOKEN), 'the token is in no log line');
});

t.test('HTTPS: the agent serves TLS and the manager verifies it against agent_tls_ca_file', async (t) => {
  const key = `${dir}/agent.key`;
  const cert = `${dir}/agent.crt`;
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  chmodSync(key, 0o600);
  const tokenFile = `${dir}/agent-token`;
  const port = await freePort();
  const a = await runAgent(
    loadAgentConfig({ sets: [`brpc_http_port=${port}`, `instance_base_dir=${dir}/tls-base`, `api_token_file=${tokenFile}`, `tls_cert_file=${cert}`, `tls_key_file=${key}`] }),
    createLogger({ level: 'info', stream: sink }),
  );
  t.teardown(() => a.close());
  t.match(a.url, /^https:/);
  const cfg = loadConfig({ env: {}, sets: [`agent_token_file=${tokenFile}`, `agent_tls_ca_file=${cert}`, 'nats_url='] });
  await new AgentClient({ host: '127.0.0.1', port, ...memberSecrets(cfg).agent }).ping();
  t.pass('ping over HTTPS with the CA and the token');
  const plain = await new AgentClient({ host: '127.0.0.1', port, token: TOKEN }).ping().catch((e: unknown) => e);
  t.match(plain, { kind: /^(network|protocol)$/ }, 'plain HTTP to a TLS agent fails');
  const untrusted = await new AgentClient({ host: '127.0.0.1', port, token: TOKEN, tlsCa: Buffer.from('') }).ping().catch((e: unknown) => e);
  t.match(untrusted, { kind: 'network' }, 'a certificate not signed by the CA is refused');
  t.ok(readFileSync(cert, 'utf8').includes('BEGIN CERTIFICATE'));
});
