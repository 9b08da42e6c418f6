// Access control on a real 3-member group (api_auth on, tokens per role, one allowed client, one
// allowed origin): every route and every Emit job type refused without a token, with a wrong one and
// with a token of a lower role (401/403, Emit in the original's envelope); each refusal logged without
// the token and counted; cross-origin requests refused unless listed; an allowed client calls Emit
// without a token; the right credentials work, also through a follower's relay.
import t from 'tap';
import { readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { makeRunDir } from '../../src/launcher/index.js';
import { JOB_DEFINITIONS } from '../../src/jobs/types/index.js';
import { roleOfJob, ROLES, ROUTE_ROLES, type Role } from '../../src/http/route-roles.js';
import { MemberGroup, waitFor, type MemberProc } from '../helpers/member-group.js';
import { find, scrape } from '../metrics/scrape.js';

// The types the Emit endpoint serves and the role each one's definition gives it.
const JOB_TYPES = JOB_DEFINITIONS.served();
const JOB_ROLES: Record<string, Role> = Object.fromEntries(Object.keys(JOB_TYPES).map((type) => [type, roleOfJob(type)]));

const ORIGIN = 'http://xpanel.example:18080';
const WRONG = 'wrong-token-0123456789abcdef-presented';
const dir = makeRunDir('http-auth-test');
// 127.0.0.2 is loopback too: requests sent from it come from an allowed client.
const group = new MemberGroup(dir, ['nats_url=', 'http_bind=127.0.0.1', 'api_allowed_clients=127.0.0.2/32', `api_allowed_origins=${ORIGIN}`]);
let leader: MemberProc;
let follower: MemberProc;

t.before(async () => {
  await group.init(3);
  group.startAll();
  leader = await waitFor('a leader', async () => {
    for (const m of group.members) if ((await group.fetch(m, '/api/v1/leader').catch(() => null))?.status === 200) return m;
    return undefined;
  });
  follower = group.members.find((m) => m !== leader)!;
  // A slow machine may still be starting a follower's HTTP server when the leader already answers.
  for (const m of group.members) await waitFor(`${m.url} serving`, async () => ((await fetch(`${m.url}/healthz`).catch(() => null))?.status === 200 ? true : undefined));
  // /readyz says 503 until the follower has caught up with the leader's log (a moment, more under load).
  await waitFor(`${follower.url} ready`, async () => ((await fetch(`${follower.url}/readyz`).catch(() => null))?.status === 200 ? true : undefined));
});
t.teardown(async () => {
  await group.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

const call = (m: MemberProc, path: string, init: RequestInit = {}) => fetch(`${m.url}${path}`, { ...init, signal: AbortSignal.timeout(20_000) });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const envelope = (jobType: string, paras: unknown = {}, jobId = '') => JSON.stringify({ version: '1.0', job_id: jobId, job_type: jobType, user_name: 'ops', paras });
const concrete = (route: string) => route.replace(':id', '1').replace(':host', '10.9.9.9');
const lower: Record<Role, Role | null> = { read: null, operator: 'read', admin: 'operator' };

t.test('every job type and every route has a role; stale entries are caught', async (t) => {
  for (const [type, d] of Object.entries(JOB_TYPES)) t.ok(ROLES.includes(d.role), `${type} defines a known role`);
  const doc = (await (await group.fetch(leader, '/api/v1/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>>; security?: unknown };
  t.same(doc.security, [{ bearer: [] }], 'the OpenAPI document says a bearer token is required');
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const method of Object.keys(ops)) {
      const url = path.replace(/\{(\w+)\}/g, ':$1');
      t.ok(Object.hasOwn(ROUTE_ROLES, `${method.toUpperCase()} ${url}`), `${method} ${path} has a role`);
    }
  }
});

t.test('open routes answer without a token', async (t) => {
  for (const [key, access] of Object.entries(ROUTE_ROLES)) {
    if (access !== 'open') continue;
    const [method, route] = key.split(' ') as [string, string];
    t.equal((await call(follower, route, { method })).status, 200, `${key} is open`);
  }
});

t.test('every REST route: no token and a wrong token are refused, a read token works', async (t) => {
  for (const [key, access] of Object.entries(ROUTE_ROLES)) {
    if (access === 'open' || access === 'emit') continue;
    const [method, route] = key.split(' ') as [string, string];
    if (method === 'OPTIONS') continue;
    const path = concrete(route);
    const none = await call(follower, path, { method });
    t.equal(none.status, 401, `${key} without a token`);
    t.equal(none.headers.get('www-authenticate'), 'Bearer realm="cluster_mgr"');
    const wrong = await call(follower, path, { method, headers: bearer(WRONG) });
    t.equal(wrong.status, 401, `${key} with a wrong token`);
    // Emit's GET answers in the original's envelope (error_info), the REST routes with `error`.
    t.match(await wrong.json(), { [route === '/HttpService/Emit' ? 'error_info' : 'error']: 'the bearer token is not valid', status: 'failed', error_code: '70001' });
    if (path === '/api/v1/events') continue; // a stream: its 200 is checked by api.test.ts
    const ok = await call(follower, path, { method, headers: bearer(group.tokens.read) });
    t.not(ok.status, 401, `${key} with the read token`);
    t.not(ok.status, 403, `${key} with the read token`);
  }
});

t.test('every Emit job type: refused without a token, with a wrong one and with a lower role', async (t) => {
  for (const jobType of Object.keys(JOB_TYPES)) {
    const body = envelope(jobType);
    const none = await call(follower, '/HttpService/Emit', { method: 'POST', body });
    t.equal(none.status, 401, `${jobType} without a token`);
    t.match(JSON.parse(await none.text()), { version: '1.0', status: 'failed', error_code: '70001', error_info: /authorization required/, attachment: null });
    const wrong = await call(follower, '/HttpService/Emit', { method: 'POST', body, headers: bearer(WRONG) });
    t.equal(wrong.status, 401, `${jobType} with a wrong token`);
    const need = JOB_ROLES[jobType]!;
    const below = lower[need];
    if (below !== null) {
      const low = await call(follower, '/HttpService/Emit', { method: 'POST', body, headers: bearer(group.tokens[below]) });
      t.equal(low.status, 403, `${jobType} with a ${below} token (needs ${need})`);
      t.match(JSON.parse(await low.text()), { status: 'failed', error_code: '70001', error_info: `job type ${jobType} needs the ${need} role; this token has ${below}` });
    }
    // The right role passes access control (empty paras then fail validation: nothing is done).
    const right = await call(follower, '/HttpService/Emit', { method: 'POST', body, headers: bearer(group.tokens[need]) });
    t.equal(right.status, 200, `${jobType} with a ${need} token`);
  }
});

t.test('an operator job on a follower is relayed to the leader and done', async (t) => {
  const body = envelope('create_machine', { hostaddr: '10.50.0.1', machine_type: 'computer', rack_id: '0', comp_datadir: '/c', total_mem: 1024, total_cpu_cores: 2 });
  const a = (await (await call(follower, '/HttpService/Emit', { method: 'POST', body, headers: bearer(group.tokens.operator) })).json()) as { status: string; job_id: string };
  t.equal(a.status, 'accept', JSON.stringify(a));
  const st = await waitFor('the job to end', async () => {
    const r = await call(leader, '/HttpService/Emit', { method: 'POST', headers: bearer(group.tokens.read), body: envelope('get_status', {}, a.job_id) });
    const s = (await r.json()) as { status: string; job_type: string };
    return s.status === 'done' || s.status === 'failed' ? s : undefined;
  });
  t.match(st, { status: 'done', job_type: 'create_machine' });
});

t.test('cross-origin: refused unless the origin is listed; never "*"', async (t) => {
  const evil = { origin: 'http://evil.example', 'content-type': 'text/plain' };
  const post = await call(follower, '/HttpService/Emit', { method: 'POST', body: envelope('get_meta_mode'), headers: { ...evil, ...bearer(group.tokens.admin) } });
  t.equal(post.status, 403, 'a simple POST from another origin is refused, even with a token');
  t.equal(post.headers.get('access-control-allow-origin'), null);
  const pre = await call(follower, '/HttpService/Emit', { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } });
  t.equal(pre.status, 403, 'a preflight from an unknown origin is refused');
  t.equal(pre.headers.get('access-control-allow-origin'), null);
  const ok = await call(follower, '/HttpService/Emit', { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } });
  t.equal(ok.status, 204);
  t.equal(ok.headers.get('access-control-allow-origin'), ORIGIN, 'a listed origin gets itself back');
  t.equal(ok.headers.get('access-control-allow-credentials'), null, 'no credentials grant');
  t.match(ok.headers.get('access-control-allow-headers'), /authorization/);
  const listed = await call(follower, '/api/v1/clusters', { headers: { origin: ORIGIN, ...bearer(group.tokens.read) } });
  t.equal(listed.status, 200);
  t.equal(listed.headers.get('access-control-allow-origin'), ORIGIN);
  const same = await call(follower, '/api/v1/clusters', { headers: { origin: follower.url, ...bearer(group.tokens.read) } });
  t.equal(same.status, 200, 'the status page (same origin) keeps working');
});

/** A request sent from 127.0.0.2 (node's fetch cannot choose its source address). */
function fromAllowedClient(m: MemberProc, method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: m.httpPort, method, path, localAddress: '127.0.0.2', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

t.test('api_allowed_clients: Emit without a token from a listed host; nothing else', async (t) => {
  const a = await fromAllowedClient(follower, 'POST', '/HttpService/Emit', envelope('list_noswitch', { cluster_id: 'all' }));
  t.equal(a.status, 200);
  t.match(JSON.parse(a.text), { status: 'done' }, 'XPanel\'s host calls Emit without a token');
  t.equal((await fromAllowedClient(follower, 'GET', '/api/v1/view')).status, 401, 'the REST routes still need a token');
  t.equal((await call(follower, '/HttpService/Emit', { method: 'POST', body: envelope('get_meta_mode') })).status, 401, 'another host (127.0.0.1) is refused');
});

t.test('refusals are logged without the token, rate-limited, and counted', async (t) => {
  const log = readFileSync(follower.logFile, 'utf8');
  const lines = log.split('\n').filter((l) => l.includes('API request refused'));
  t.ok(lines.length > 0, 'refusals are logged');
  t.ok(lines.length <= 60, `the log is rate-limited (${lines.length} lines)`);
  t.notMatch(log, WRONG, 'the presented token is never logged');
  for (const tok of Object.values(group.tokens)) if (!tok.includes('/')) t.notMatch(log, tok, 'no valid token is logged');
  const one = JSON.parse(lines.find((l) => l.includes('"reason":"bad_token"'))!) as Record<string, unknown>;
  t.match(one, { level: 'warn', source: '127.0.0.1', method: /GET|POST/, route: /^\//, reason: 'bad_token', status: 401 });
  t.ok(log.includes('suppressed_before') || lines.length < 20, 'what the limit held back is counted in the next line');
  const s = (await scrape(follower.url, group.auth('read'))).samples;
  const count = (reason: string) => find(s, 'cluster_mgr_http_refused_total', { reason })[0]?.value ?? 0;
  t.ok(count('no_token') > 20, `no_token refusals counted (${count('no_token')})`);
  t.ok(count('bad_token') > 20, 'bad_token refusals counted');
  t.ok(count('role') > 5, 'role refusals counted');
  t.ok(count('origin') >= 2, 'origin refusals counted');
});
