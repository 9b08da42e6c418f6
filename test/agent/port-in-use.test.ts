// Issue 11: the agent tests a port by binding it, so a port held by a listener or by an outgoing
// connection (which a connect test cannot see) is refused before anything is created, and the answer
// carries the machine-readable reason `port_in_use` that makes the manager move the instance on. A
// server that fails to bind anyway (real mariadbd and postgres on a held port) is recognised as such.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, MariaDbInstance, PostgresInstance } from '../../src/launcher/index.js';
import { AgentClient, AgentError } from '../../src/agent/client.js';
import { isBindFailure } from '../../src/agent/jobs.js';
import { AgentChild, agentRun, emit, waitFor, writeConfig } from './helpers.js';
import { holdByConnection, holdListening } from '../helpers/port-holders.js';

const ADMIN = { user: 'kadmin', password: 'adm-Pw-Secret-1' };
const run = agentRun('agent-port-in-use');
const { dir, base } = run;
t.teardown(() => run.cleanup());

const failure = (p: Promise<unknown>): Promise<AgentError> =>
  p.then(
    () => {
      throw new Error('expected a failed answer');
    },
    (e: unknown) => {
      if (!(e instanceof AgentError)) throw e;
      return e;
    },
  );

t.test('install on a held port answers reason port_in_use and creates nothing', async (t) => {
  const httpPort = await freePort();
  const cfg = join(dir, 'agent.cnf');
  writeConfig(cfg, { brpc_http_port: httpPort, local_ip: '127.0.0.1', instance_base_dir: base, log_format: 'json', log_level: 'info' });
  const child = new AgentChild(cfg, join(dir, 'agent.log'));
  run.agents.push(child);
  child.start();
  const c = new AgentClient({ host: '127.0.0.1', port: httpPort });
  await waitFor('the agent to answer', 20_000, async () => ((await c.ping().then(() => true)) ? true : undefined));

  const listened = await holdListening(await freePort());
  const e1 = await failure(c.installMysql({ port: listened.port, innodbBufferSizeMb: 16, admin: ADMIN }));
  t.equal(e1.kind, 'failed');
  t.equal(e1.reason, 'port_in_use', 'a listener on the port: port_in_use');
  t.match(e1.message, new RegExp(`port ${listened.port} on 127\\.0\\.0\\.1 cannot be bound`));
  // On the wire: a top-level "reason" beside node_mgr's keys.
  const raw = await emit(httpPort, 'install_mysql', { port: String(listened.port), user: ADMIN.user, password: ADMIN.password });
  t.match(raw.json, { status: 'failed', reason: 'port_in_use', info: /cannot be bound/ }, 'the raw answer carries the reason');
  await listened.release();

  // Held by an outgoing connection: nothing listens, so a connect test would have said "free".
  const connected = await holdByConnection(await freePort());
  const e2 = await failure(c.installPostgres({ pgPort: connected.port, computeNodeId: 1, user: 'kunlun', password: 'pg-Pw-Secret-3', bindAddress: '127.0.0.1' }));
  t.equal(e2.reason, 'port_in_use', 'a port held by an outgoing connection: port_in_use');
  const e3 = await failure(c.installMysql({ port: connected.port, innodbBufferSizeMb: 16, admin: ADMIN }));
  t.equal(e3.reason, 'port_in_use');
  await connected.release();

  t.same((await c.listInstances()).instances, [], 'no instance was recorded');
  t.notOk(existsSync(join(base, 'storage', String(listened.port))) || existsSync(join(base, 'computer', String(connected.port))), 'no instance dir was created');

  // Other failures carry no reason: the manager must not move an instance for them.
  const other = await failure(c.controlInstance({ type: 'storage', control: 'start', ip: '127.0.0.1', port: listened.port }));
  t.equal(other.reason, undefined, 'a failure of another cause has no reason');

  const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
  t.equal((await c.listInstances()).ephemeral_ports, `${lo}-${hi}`, 'list_instances reports the host ephemeral port range');
});

t.test('a real server that cannot bind its port is recognised as a bind failure', async (t) => {
  for (const kind of ['mariadbd', 'postgres'] as const) {
    const held = await holdByConnection(await freePort());
    const inst =
      kind === 'mariadbd'
        ? new MariaDbInstance({ dir: join(dir, `bind-${kind}`), port: held.port, serverId: 1, admin: ADMIN })
        : new PostgresInstance({ dir: join(dir, `bind-${kind}`), port: held.port, admin: ADMIN });
    const err = await inst.start(60_000).then(
      () => null,
      (e: unknown) => e,
    );
    await inst.kill9();
    await held.release();
    t.ok(err instanceof Error, `${kind} on a port held by a connection fails to start`);
    t.ok(isBindFailure(err), `${kind}'s failure is a bind failure: ${String((err as Error | null)?.message).split('\n').find((l) => /bind|in use/i.test(l)) ?? ''}`);
  }
  t.notOk(isBindFailure(new Error('mariadbd exited with code 1 before it was ready; log:\n[ERROR] InnoDB: Cannot allocate memory')), 'other start failures are not');
});
