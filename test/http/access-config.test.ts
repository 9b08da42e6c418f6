// Access control's pure parts: the role table against the job types and docs/security.md, role
// order, the tokens file, allowed clients (CIDR, IPv4-mapped callers), and the rate-limited log.
import t from 'tap';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { clientAllowed, loadApiAccess, parseAllowedClients, writeTokensFile } from '../../src/http/api-access.js';
import { readTokensFile } from '../../src/config/api-tokens.js';
import { JOB_DEFINITIONS } from '../../src/jobs/types/index.js';
import { roleAllows, roleOfJob, ROLES, type Role } from '../../src/http/route-roles.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { RateLimitedLog } from '../../src/log/rate-limited.js';

// The types the Emit endpoint serves and the role each one's definition gives it.
const JOB_TYPES = JOB_DEFINITIONS.served();
const JOB_ROLES: Record<string, Role> = Object.fromEntries(Object.keys(JOB_TYPES).map((type) => [type, roleOfJob(type)]));

const dir = mkdtempSync(join(tmpdir(), 'access-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('every job type has a role, and docs/security.md lists it under that role', (t) => {
  for (const [type, d] of Object.entries(JOB_TYPES)) t.ok(ROLES.includes(d.role), `${type} defines a known role`);
  const doc = readFileSync(new URL('../../../docs/security.md', import.meta.url), 'utf8');
  for (const role of ROLES) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${role}\` |`)) ?? '';
    for (const [type, r] of Object.entries(JOB_ROLES)) if (r === role) t.match(row, `\`${type}\``, `${type} documented as ${role}`);
  }
  t.equal(roleOfJob('no_such_job'), 'read', 'an unknown type only earns its error answer');
  t.ok(roleAllows('admin', 'operator') && roleAllows('operator', 'operator') && !roleAllows('read', 'operator') && !roleAllows('operator', 'admin'));
  t.end();
});

const cfg = (sets: string[], env: NodeJS.ProcessEnv = {}) => loadConfig({ env, sets: ['meta_group_seeds=', ...sets], cwd: dir });

t.test('tokens: from the file (roles) or the environment; none refuses; short ones refused; loose modes warned', (t) => {
  const w = writeTokensFile(join(dir, 'tokens'));
  const a = loadApiAccess(cfg([`api_tokens_file=${w.file}`]));
  t.same(a.tokens.map((x) => x.role), ['read', 'operator', 'admin']);
  t.equal(a.relayToken, w.admin, 'the admin token relays');
  t.same(a.warnings, [], 'a 0600 file is not warned about');
  chmodSync(w.file, 0o644);
  t.match(loadApiAccess(cfg([`api_tokens_file=${w.file}`])).warnings, [/is readable by other users \(mode 0644\): chmod 600 it/]);
  t.throws(() => loadApiAccess(cfg([])), /api_auth is on and no API token is set/);
  const env = loadApiAccess(cfg([], { CLUSTER_MGR_API_TOKEN: 'x'.repeat(32) }));
  t.same(env.tokens.map((x) => x.role), ['admin'], 'CLUSTER_MGR_API_TOKEN is an admin token');
  t.throws(() => loadApiAccess(cfg([], { CLUSTER_MGR_API_TOKEN: 'short' })), /shorter than 16 characters/);
  const off = loadApiAccess(cfg(['api_auth=off']));
  t.ok(off.open);
  t.match(off.warnings, [/api_auth = off: the HTTP API is open/]);
  const bad = join(dir, 'bad');
  writeFileSync(bad, 'root sometoken-0123456789abcdef\n', { mode: 0o600 });
  t.throws(() => readTokensFile(bad, []), new ConfigError(`api_tokens_file ${bad}:1: expected "<role> <token>" with role read, operator, admin`));
  t.throws(() => cfg(['api_token=0123456789abcdef0123']), /--set api_token: refused on the command line/);
  t.end();
});

t.test('allowed clients: addresses and CIDR blocks, IPv4-mapped callers', (t) => {
  const l = parseAllowedClients('10.0.5.17,192.168.0.0/16,fd00::/8', 'test');
  t.ok(clientAllowed(l, '10.0.5.17'));
  t.ok(clientAllowed(l, '::ffff:10.0.5.17'), 'a dual-stack socket shows IPv4 callers mapped');
  t.notOk(clientAllowed(l, '10.0.5.18'));
  t.ok(clientAllowed(l, '192.168.44.1'));
  t.ok(clientAllowed(l, 'fd12::1'));
  t.notOk(clientAllowed(l, 'fe80::1'));
  t.notOk(clientAllowed(null, '10.0.5.17'), 'an empty list allows nobody');
  t.throws(() => parseAllowedClients('10.0.0.0/33', 'here'), /"10.0.0.0\/33" is not an address or a CIDR block/);
  t.end();
});

t.test('the refusal log is rate-limited and counts what it held back', (t) => {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({ write(c: Buffer, _e, cb) { lines.push(JSON.parse(c.toString()) as Record<string, unknown>); cb(); } });
  let now = 0;
  const r = new RateLimitedLog(createLogger({ stream }), 3, 1000, () => now);
  for (let i = 0; i < 10; i++) r.warn({ i }, 'refused');
  t.equal(lines.length, 3, 'three lines in the window');
  now = 1000;
  r.warn({ i: 10 }, 'refused');
  t.equal(lines.length, 4);
  t.match(lines[3], { i: 10, suppressed_before: 7 }, 'the next window says how many were held back');
  t.end();
});
