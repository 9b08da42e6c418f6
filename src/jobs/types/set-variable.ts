// set_variable (cluster_mgr-api.md §3.25): one server variable of one storage node (SET GLOBAL, as the
// manager's storage account) or compute node (ALTER SYSTEM + reload, as the cluster's user). The
// request was validated by the job's validator (instance found, variable on the whitelist, value
// checked). Two recorded steps: the value before, then the change, which reads the current value first
// and changes nothing when it already holds, so a new leader that reruns it does no harm. The job's
// result holds the instance, the old and the new value.
import { setTimeout as delay } from 'node:timers/promises';
import type mysql from 'mysql2/promise';
import pg from 'pg';
import type { Json } from '../../events/schema.js';
import { isSettable, valueProblem, variableText, VARIABLE_NAME_RE } from '../../actors/commands/server-variables.js';
import { refuse } from '../../actors/commands/common.js';
import { withComp } from '../../compute/index.js';
import { checkLeading } from '../../reconcile/host.js';
import { JobError, type JobContext } from '../engine.js';
import type { JobTypeDefinition } from '../definition.js';
import { port, variableName } from './paras.js';
import { fail } from './world-checks.js';
import { connectNode } from '../shard-install.js';
import { num, req, str } from '../handlers/request.js';
import { q } from '../../metadata/ident.js';

/** The original answered a refused value or an unreachable instance with "Parameter Error". */
export const E_SET_VARIABLE = 70005;
/** Values are recorded in the job's step info and result (bounded): long ones are cut. */
const SHOWN = 200;
/** How long a compute node may take to load a reloaded setting before its new value is read. */
const RELOAD_WAIT_MS = 1_000;

interface Target {
  kind: 'storage' | 'compute';
  cluster: number;
  host: string;
  port: number;
  variable: string;
  type: 'int' | 'string';
  value: string;
}

function target(ctx: JobContext): Target {
  const r = req(ctx);
  const type = str(r, 'type') === 'int' ? 'int' : 'string';
  return {
    kind: str(r, 'instance').startsWith('node/') ? 'storage' : 'compute',
    cluster: ctx.job.cluster ?? -1,
    host: str(r, 'hostaddr'),
    port: num(r, 'port'),
    variable: str(r, 'variable'),
    type,
    value: str(r, 'value'),
  };
}

const shown = (v: string | null): string | null => (v === null ? null : v.slice(0, SHOWN));

function where(t: Target): string {
  return `${t.kind} node ${t.host}:${t.port}`;
}

/** Runs fn on the instance; failing to reach it or a refusal by the server fails the job, naming both. */
async function onInstance<T>(ctx: JobContext, t: Target, storage: (c: mysql.Connection) => Promise<T>, compute: (c: pg.Client) => Promise<T>): Promise<T> {
  try {
    if (t.kind === 'storage') {
      const c = await connectNode(ctx, { hostaddr: t.host, port: t.port });
      try {
        return await storage(c);
      } finally {
        await c.end().catch(() => undefined);
      }
    }
    const s = ctx.world.clusterSecret(t.cluster);
    if (s?.user == null || s.password === null) throw new JobError(E_SET_VARIABLE, `${where(t)}: cluster ${t.cluster} has no compute-node credentials`);
    return await withComp({ host: t.host, port: t.port, user: s.user, password: s.password }, compute, { signal: ctx.signal });
  } catch (e) {
    if (e instanceof JobError || ctx.signal.aborted) throw e;
    // The drivers' messages name the host and the reason, never the password.
    throw new JobError(E_SET_VARIABLE, `set_variable ${t.variable} on ${where(t)}: ${(e as Error).message}`.slice(0, 900), { cause: e });
  }
}

async function storageValue(c: mysql.Connection, name: string): Promise<string | null> {
  const [rows] = await c.query<mysql.RowDataPacket[]>(`SELECT @@GLOBAL.${q(name, 'variable')} AS v`);
  return variableText(rows[0]?.v);
}

async function computeValue(c: pg.Client, name: string): Promise<string | null> {
  const r = await c.query<{ v: string | null }>('SELECT current_setting($1, true) AS v', [name]);
  return r.rows[0]?.v ?? null;
}

/** Whether the storage node's current value is the one asked for (MariaDB shows ON/OFF in upper case). */
function storageHolds(t: Target, current: string | null): boolean {
  if (current === null) return false;
  return t.type === 'int' ? current === String(Number(t.value)) : current.toLowerCase() === t.value.toLowerCase();
}

async function setOnStorage(ctx: JobContext, t: Target, c: mysql.Connection): Promise<{ changed: boolean; now: string | null }> {
  // The variable name passed the whitelist and is quoted as an identifier; the value is a parameter.
  const current = await storageValue(c, t.variable);
  if (storageHolds(t, current)) return { changed: false, now: current };
  checkLeading(ctx.signal);
  await c.query(`SET GLOBAL ${q(t.variable, 'variable')} = ?`, [t.type === 'int' ? Number(t.value) : t.value]);
  return { changed: true, now: await storageValue(c, t.variable) };
}

async function setOnCompute(ctx: JobContext, t: Target, c: pg.Client, before: string | null): Promise<{ changed: boolean; now: string | null }> {
  // What ALTER SYSTEM wrote last: when it already holds the value, only the reload is repeated.
  const file = await c.query<{ setting: string | null }>(
    "SELECT setting FROM pg_file_settings WHERE name = $1 AND sourcefile LIKE '%/postgresql.auto.conf' ORDER BY seqno DESC LIMIT 1",
    [t.variable],
  );
  const changed = file.rows[0]?.setting !== t.value;
  if (changed) {
    checkLeading(ctx.signal);
    // ALTER SYSTEM takes no parameters: the name is a quoted identifier, the value a strictly
    // validated, escaped literal.
    await c.query(`ALTER SYSTEM SET ${pg.escapeIdentifier(t.variable)} = ${c.escapeLiteral(t.value)}`);
  }
  await c.query('SELECT pg_reload_conf()');
  // The reload reaches this session asynchronously: read until the value moved, a bounded time.
  let now = await computeValue(c, t.variable);
  for (const end = Date.now() + RELOAD_WAIT_MS; changed && now === before && Date.now() < end; ) {
    await delay(50);
    now = await computeValue(c, t.variable);
  }
  return { changed, now };
}

async function setVariable(ctx: JobContext): Promise<Json> {
  const t = target(ctx);
  const before = await ctx.step('read_before', 2, async () =>
    shown(await onInstance(ctx, t, (c) => storageValue(c, t.variable), (c) => computeValue(c, t.variable))),
  );
  const after = await ctx.step('set', 2, async () => {
    const r = await onInstance(
      ctx,
      t,
      (c) => setOnStorage(ctx, t, c),
      (c) => setOnCompute(ctx, t, c, before),
    );
    return { changed: r.changed, new_value: shown(r.now) };
  });
  return { hostaddr: t.host, port: t.port, variable: t.variable, old_value: before, new_value: after.new_value, changed: after.changed };
}

// ---- definition ----

export const setVariableJob: JobTypeDefinition = {
  kind: 'job',
  name: 'set_variable',
  role: 'admin',
  // The Emit answer waits for the job (as the original answered at once): src/http/emit-backend.ts.
  sync: true,
  internal: false,
  summary: 'set a server variable of an instance',
  missingParas: 70005,
  paras: {
    hostaddr: { kind: 'host', required: true },
    port: { ...port, required: true },
    variable: variableName,
    type: { kind: 'enum', values: ['int', 'string'], required: true },
    value: { kind: 'string', maxLen: 1024, required: true },
  },
  accept(world, p) {
    const host = p.host('hostaddr');
    const portNo = p.int('port');
    const at = world.nodeAt(host, portNo);
    if (at === null || (!at.startsWith('node/') && !at.startsWith('comp/'))) {
      fail(refuse('not_found', `no storage or compute node listens on ${host}:${portNo}`, 'paras.hostaddr'));
    }
    const kind = at.startsWith('node/') ? 'storage' : 'compute';
    const variable = p.str('variable', { pattern: VARIABLE_NAME_RE, patternHelp: 'a variable name' });
    if (!isSettable(kind, variable)) {
      fail(refuse('invalid_argument', `${variable} may not be set on a ${kind} node through the API (see docs/api.md for the list)`, 'paras.variable'));
    }
    const type = p.oneOf('type', ['int', 'string'] as const);
    const value = p.str('value');
    const problem = valueProblem(kind, type, value);
    if (problem !== null) fail(refuse('invalid_argument', problem, 'paras.value'));
    const id = Number(at.split('/')[1]);
    const cluster = kind === 'storage' ? world.node(id)!.cluster : world.comp(id)!.cluster;
    // The instance is its lock: a variable may be tuned while a long job of the cluster runs, one change
    // of an instance at a time.
    return { request: { hostaddr: host, port: portNo, variable, type, value, instance: at }, cluster, lock: at };
  },
  steps: ['read_before', 'set'],
  run: setVariable,
  attachment: {
    description: 'the Emit answer is {result: "true"|"false"}; get_status of the job shows the values',
    keys: { hostaddr: { type: 'string' }, port: { type: 'integer' }, variable: { type: 'string' }, old_value: { type: 'string' }, new_value: { type: 'string' }, changed: { type: 'boolean' } },
  },
  // Nothing of kunlun_metadata_db: the variable lives in the instance (SET GLOBAL / ALTER SYSTEM).
  writes: [],
};
