// HTTPS: a member with api_tls_cert/api_tls_key serves its API over TLS (a certificate made here with
// openssl, trusted through `ca`), says https:// in its leader URL, and still needs the token.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { makeRunDir } from '../../src/launcher/index.js';
import { createLogger } from '../../src/log/logger.js';
import { startMember, type MemberHandle } from '../../src/member/member.js';
import { waitFor } from '../helpers/member-group.js';
import { singleMemberConfig } from '../helpers/single-member.js';
import { bearer, testTokens } from '../helpers/api-tokens.js';

const dir = makeRunDir('http-tls');
let member: MemberHandle;
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');

t.before(async () => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const cfg = await singleMemberConfig(dir, { api_tls_cert: cert, api_tls_key: key });
  member = await startMember(cfg, createLogger({ level: 'warn', file: join(dir, 'member') }));
  await waitFor('the member to lead', () => Promise.resolve(member.runtime.isLeader));
});
t.teardown(async () => {
  await member?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const u = new URL(member.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: Number(u.port), path, headers, ca: readFileSync(cert) }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('the API over HTTPS, the token still required', async (t) => {
  t.match(member.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  t.equal((await get('/healthz')).status, 200);
  t.equal((await get('/api/v1/view')).status, 401, 'no token: refused over TLS too');
  const leader = await get('/api/v1/leader', bearer(testTokens(dir), 'read'));
  t.equal(leader.status, 200);
  t.match(JSON.parse(leader.text), { leader_url: member.url }, 'members reach each other the way they are served');
  await t.rejects(fetch(`${member.url.replace('https:', 'http:')}/healthz`), 'plain HTTP is not served');
});
