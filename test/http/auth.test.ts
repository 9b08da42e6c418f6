// api_token set on a real 3-member group: health checks stay open, every other route (Emit included)
// answers 401 without the token or with a wrong one, and a follower relays an authorized Emit to the
// leader with the token so the job is accepted there.
import t from 'tap';
import { rmSync } from 'node:fs';
import { makeRunDir } from '../../src/launcher/index.js';
import { MemberGroup, waitFor, type MemberProc } from '../helpers/member-group.js';

const TOKEN = 's3cret-token-for-tests';
const dir = makeRunDir('http-auth-test');
const group = new MemberGroup(dir, ['nats_url=', `api_token=${TOKEN}`]);
let leader: MemberProc;
let follower: MemberProc;

t.before(async () => {
  await group.init(3);
  group.startAll();
  leader = await waitFor('a leader', async () => {
    for (const m of group.members) {
      const r = await fetch(`${m.url}/api/v1/leader`, { headers: { authorization: `Bearer ${TOKEN}` } }).catch(() => null);
      if (r?.status === 200) return m;
    }
    return undefined;
  });
  follower = group.members.find((m) => m !== leader)!;
});
t.teardown(async () => {
  await group.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

const call = (m: MemberProc, path: string, init: RequestInit = {}) => fetch(`${m.url}${path}`, { ...init, signal: AbortSignal.timeout(20_000) });
const emitBody = JSON.stringify({ version: '1.0', job_id: '', job_type: 'create_machine', user_name: 'ops', paras: { hostaddr: '10.50.0.1', machine_type: 'computer', rack_id: '0', comp_datadir: '/c', total_mem: 1024, total_cpu_cores: 2 } });

t.test('health checks are open; everything else needs the bearer token', async (t) => {
  t.equal((await call(follower, '/healthz')).status, 200);
  t.equal((await call(follower, '/readyz')).status, 200);
  for (const path of ['/api/v1/clusters', '/api/v1/view', '/api/v1/openapi.json', '/api/v1/jobs', '/api/v1/events', '/metrics']) {
    const none = await call(follower, path);
    t.equal(none.status, 401, `${path} without a token`);
    t.match(await none.json(), { error: /authorization required/ });
    const wrong = await call(follower, path, { headers: { authorization: 'Bearer nope' } });
    t.equal(wrong.status, 401, `${path} with a wrong token`);
    t.match(await wrong.json(), { error: /not valid/ });
  }
  const ok = await call(follower, '/api/v1/clusters', { headers: { authorization: `Bearer ${TOKEN}` } });
  t.equal(ok.status, 200);
  const metrics = await call(follower, '/metrics', { headers: { authorization: `Bearer ${TOKEN}` } });
  t.equal(metrics.status, 200, 'Prometheus scrapes /metrics with the token');
  t.match(await metrics.text(), /^cluster_mgr_raft_is_leader 0$/m);
  const emitNone = await call(follower, '/HttpService/Emit', { method: 'POST', body: emitBody });
  t.equal(emitNone.status, 401, 'Emit needs the token too');
  t.match(await emitNone.json(), { status: 'failed', error_code: '70001' });
  // A CORS preflight carries no credentials.
  t.equal((await call(follower, '/HttpService/Emit', { method: 'OPTIONS' })).status, 200);
  // The status page's HTML opens in a browser (no header possible) and holds no data.
  const page = await call(follower, '/status');
  t.equal(page.status, 200, 'the status page itself is open');
  t.notMatch(await page.text(), TOKEN, 'the page does not carry the token');
});

t.test('an authorized Emit on a follower is relayed with the token and accepted by the leader', async (t) => {
  const auth = { authorization: `Bearer ${TOKEN}` };
  const res = await call(follower, '/HttpService/Emit', { method: 'POST', body: emitBody, headers: auth });
  const a = (await res.json()) as { status: string; job_id: string };
  t.equal(a.status, 'accept', JSON.stringify(a));
  const st = await waitFor('the job to end', async () => {
    const r = await call(leader, '/HttpService/Emit', { method: 'POST', headers: auth, body: JSON.stringify({ version: '1.0', job_id: a.job_id, job_type: 'get_status', paras: {} }) });
    const s = (await r.json()) as { status: string; job_type: string };
    return s.status === 'done' || s.status === 'failed' ? s : undefined;
  });
  t.match(st, { status: 'done', job_type: 'create_machine' });
  const doc = (await (await call(leader, '/api/v1/openapi.json', { headers: auth })).json()) as { security?: unknown[] };
  t.same(doc.security, [{ bearer: [] }], 'the OpenAPI document says a bearer token is required');
});
