// Failover steps against real storage nodes. Each one first looks at the world and does nothing when
// it is already as wanted, so a new manager leader can run the whole sequence again after the old one
// died half-way. Each takes the leader's AbortSignal: losing leadership tears the connection down.
import { rejoinPlan } from './decide/rejoin.js';
import type { ReplicateOptions, Sql } from '../storage-node/flavor.js';
import type { NodeState } from '../storage-node/node-state.js';
import { classifyError, probeNode } from '../storage-node/probe.js';
import type { Credentials } from '../storage-node/replication.js';
import type { StorageNode } from '../storage-node/storage-node.js';
import { setTimeout as sleep } from 'node:timers/promises';

export type StepName = 'stop-io' | 'wait-applied' | 'fence' | 'promote' | 'repoint' | 'rejoin';

export interface StepResult {
  step: StepName;
  node: string;
  /** False when the world already was as wanted and nothing was done. */
  changed: boolean;
  detail: string;
  ms: number;
}

export class StepError extends Error {
  override readonly name = 'StepError';
  constructor(
    readonly step: StepName,
    readonly node: string,
    readonly code: string,
    message: string,
  ) {
    super(`${step} on ${node}: ${message}`);
  }
}

export interface StepOptions {
  /** Overall deadline of the step, ms. */
  deadlineMs?: number;
}

function finish(step: StepName, node: StorageNode, t0: number, changed: boolean, detail: string): StepResult {
  return { step, node: node.id, changed, detail, ms: Math.round(performance.now() - t0) };
}

/** Freezes what a replica receives: no more events from a half-alive primary. */
export async function stopIoThreads(node: StorageNode, signal: AbortSignal, o: StepOptions = {}): Promise<StepResult> {
  const t0 = performance.now();
  const f = node.flavor;
  return node.run(
    async (sql) => {
      const st = await f.readState(sql);
      if (!st.replication) return finish('stop-io', node, t0, false, 'not a replica');
      if (st.replication.io === 'stopped') {
        return finish('stop-io', node, t0, false, `IO thread already stopped; received ${st.gtid.received || '(nothing)'}`);
      }
      signal.throwIfAborted();
      await f.stopIoThread(sql);
      const after = await f.readState(sql);
      if (after.replication?.io !== 'stopped') {
        throw new StepError('stop-io', node.id, 'verify-failed', `IO thread is ${after.replication?.io ?? 'gone'} after STOP`);
      }
      return finish('stop-io', node, t0, true, `IO thread stopped; received ${after.gtid.received || '(nothing)'}`);
    },
    { signal, deadlineMs: o.deadlineMs ?? 10_000 },
  );
}

/** Waits until the node executed `position` (what it received, or what the candidate must hold). */
export async function waitApplied(
  node: StorageNode,
  position: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<StepResult> {
  const t0 = performance.now();
  const f = node.flavor;
  f.gtid.validatePosition(position);
  const deadline = t0 + timeoutMs;
  return node.run(
    async (sql) => {
      for (;;) {
        signal.throwIfAborted();
        const st = await f.readState(sql);
        if (f.gtid.contains(st.gtid.executed, position)) {
          return finish('wait-applied', node, t0, false, `executed ${st.gtid.executed || '(nothing)'} contains ${position || '(nothing)'}`);
        }
        if (!st.replication) {
          throw new StepError('wait-applied', node.id, 'not-replica', `lacks ${position} and replicates from nowhere`);
        }
        if (!st.replication.sqlRunning) {
          const why = st.replication.sqlError || 'SQL thread stopped';
          throw new StepError('wait-applied', node.id, 'sql-thread-stopped', `${why}; executed ${st.gtid.executed}`);
        }
        const left = deadline - performance.now();
        if (left <= 0) {
          throw new StepError('wait-applied', node.id, 'timeout', `executed ${st.gtid.executed} after ${timeoutMs} ms, wanted ${position}`);
        }
        await f.waitApplied(sql, position, Math.min(500, left));
      }
    },
    { signal, deadlineMs: timeoutMs + 5_000 },
  );
}

export interface FenceOptions extends StepOptions {
  /** Accounts whose sessions survive the fence (e.g. a monitoring account). */
  keepUsers?: string[];
}

export interface FenceResult extends StepResult {
  /** False when the node could not be reached: the caller must fence it another way (kill the process). */
  reachable: boolean;
  killed: number;
}

/** Kills client sessions except `keep`, the session running this, internal threads and `keepUsers`. */
async function killClients(node: StorageNode, sql: Sql, keep: Set<number>, keepUsers: readonly string[]): Promise<number> {
  const f = node.flavor;
  const self = await f.currentSessionId(sql);
  let n = 0;
  for (const s of await f.sessions(sql)) {
    if (s.id === self || keep.has(s.id) || f.isInternalSession(s) || keepUsers.includes(s.user)) continue;
    await f.killSession(sql, s.id);
    n++;
  }
  return n;
}

/**
 * Makes a former primary harmless: read_only, client sessions killed, semi-sync master side off.
 * Sessions are killed before the semi-sync switch: turning the master side off would release commits
 * that wait for an ACK and report them acknowledged although no replica has them.
 */
export async function fence(node: StorageNode, signal: AbortSignal, o: FenceOptions = {}): Promise<FenceResult> {
  const t0 = performance.now();
  const f = node.flavor;
  const keepUsers = o.keepUsers ?? [];
  const deadlineMs = o.deadlineMs ?? 8_000;
  try {
    return await node.run(
      async (sql) => {
        const st = await f.readState(sql);
        const me = await f.currentSessionId(sql);
        const notes: string[] = [];
        let changed = false;
        let killed = 0;
        if (!st.readOnly) {
          signal.throwIfAborted();
          // SET GLOBAL read_only waits for commits in flight; one waiting for a semi-sync ACK from
          // replicas that are gone never finishes. Kill such sessions from a second connection.
          let done = false;
          const setting = f.setReadOnly(sql, true).finally(() => {
            done = true;
          });
          setting.catch(() => undefined);
          await Promise.race([setting, sleep(200)]);
          while (!done) {
            signal.throwIfAborted();
            killed += await node.run((s2) => killClients(node, s2, new Set([me]), keepUsers), {
              signal,
              deadlineMs: 2_000,
              retryStale: true,
            });
            await Promise.race([setting, sleep(200)]);
          }
          await setting;
          changed = true;
          notes.push('read_only set');
        }
        // Killing sessions on a node that already is read-only changes no state: reported in `killed`.
        killed += await killClients(node, sql, new Set([me]), keepUsers);
        if (st.semiSync.masterEnabled) {
          await f.setSemiSync(sql, { master: false });
          changed = true;
          notes.push('semi-sync master off');
        }
        const after = await f.readState(sql);
        if (!after.readOnly) throw new StepError('fence', node.id, 'verify-failed', 'still writable after fencing');
        notes.push(`${killed} client sessions killed`);
        return { ...finish('fence', node, t0, changed, notes.join('; ')), reachable: true, killed };
      },
      { signal, deadlineMs, retryStale: true },
    );
  } catch (e) {
    if (signal.aborted || e instanceof StepError) throw e;
    if (classifyError(e) !== 'unreachable') throw e;
    const msg = e instanceof Error ? e.message : String(e);
    return { ...finish('fence', node, t0, false, `unreachable: ${msg}`), reachable: false, killed: 0 };
  }
}

export interface PromoteOptions extends StepOptions {
  /** The position the candidate must hold before it may take writes (the election's target). */
  mustContain?: string;
}

function isPromoted(st: NodeState): boolean {
  return !st.replication && !st.readOnly && st.semiSync.masterEnabled;
}

/** Stops and forgets replication, turns the semi-sync master side on and makes the node writable. */
export async function promote(node: StorageNode, signal: AbortSignal, o: PromoteOptions = {}): Promise<StepResult> {
  const t0 = performance.now();
  const f = node.flavor;
  if (o.mustContain !== undefined) f.gtid.validatePosition(o.mustContain);
  return node.run(
    async (sql) => {
      let st = await f.readState(sql);
      if (isPromoted(st)) return finish('promote', node, t0, false, `already primary at ${st.gtid.executed}`);
      if (st.replication && st.replication.io !== 'stopped') {
        await f.stopIoThread(sql);
        st = await f.readState(sql);
      }
      // Resetting replication throws the relay log away: everything received must be applied first.
      const want = [st.gtid.received ?? '', o.mustContain ?? ''].filter((p) => p !== '');
      for (const p of want) {
        if (!f.gtid.contains(st.gtid.executed, p)) {
          throw new StepError('promote', node.id, 'not-caught-up', `executed ${st.gtid.executed || '(nothing)'} lacks ${p}`);
        }
      }
      signal.throwIfAborted();
      if (st.replication) await f.resetReplication(sql);
      await f.setSemiSync(sql, { slave: false, master: true });
      signal.throwIfAborted();
      await f.setReadOnly(sql, false);
      const after = await f.readState(sql);
      if (!isPromoted(after)) throw new StepError('promote', node.id, 'verify-failed', 'not writable primary after promotion');
      return finish('promote', node, t0, true, `primary at ${after.gtid.executed}`);
    },
    { signal, deadlineMs: o.deadlineMs ?? 10_000, retryStale: true },
  );
}

export interface RepointOptions extends StepOptions, Partial<ReplicateOptions> {
  /** How long to wait for the IO thread to connect to the new source, ms. Default 3000. */
  confirmMs?: number;
}

function followsProperly(st: NodeState, address: string): boolean {
  const r = st.replication;
  return (
    !!r && r.source === address && r.io === 'running' && r.sqlRunning && st.readOnly && !st.semiSync.masterEnabled && st.semiSync.slaveEnabled
  );
}

/**
 * Makes `node` a read-only semi-sync replica of `newPrimary`, continuing after what it executed.
 * Refuses when the node holds transactions the new primary lacks (errant): replicating on top of them
 * would fork the shard.
 */
export async function repoint(
  node: StorageNode,
  newPrimary: StorageNode,
  repl: Credentials,
  signal: AbortSignal,
  o: RepointOptions = {},
): Promise<StepResult> {
  const t0 = performance.now();
  const f = node.flavor;
  const deadlineMs = o.deadlineMs ?? 15_000;
  const before = await node.run((sql) => f.readState(sql), { signal, deadlineMs, retryStale: true });
  if (followsProperly(before, newPrimary.address)) {
    return finish('repoint', node, t0, false, `already replicates from ${newPrimary.address}`);
  }
  const source = await newPrimary.run((sql) => newPrimary.flavor.readState(sql), { signal, deadlineMs, retryStale: true });
  const errant = f.gtid.errant(before.gtid.history, source.gtid.history, source.serverId);
  if (errant.length > 0) {
    throw new StepError('repoint', node.id, 'errant', `has transactions ${newPrimary.id} lacks: ${errant.join(', ')}`);
  }
  return node.run(
    async (sql) => {
      signal.throwIfAborted();
      await f.setReadOnly(sql, true);
      await f.stopReplication(sql);
      // Re-read after the stop: the applier may have moved since the errant check.
      const st = await f.readState(sql);
      const extra = f.gtid.errant(st.gtid.history, source.gtid.history, source.serverId);
      if (extra.length > 0) throw new StepError('repoint', node.id, 'errant', `has transactions ${newPrimary.id} lacks: ${extra.join(', ')}`);
      await f.setSemiSync(sql, { master: false, slave: true });
      signal.throwIfAborted();
      await f.configureReplication(sql, newPrimary.endpoint, repl, st.gtid.executed, {
        heartbeatSec: o.heartbeatSec ?? 1,
        connectRetrySec: o.connectRetrySec ?? 1,
      });
      await f.startReplication(sql);
      const until = performance.now() + (o.confirmMs ?? 3_000);
      for (;;) {
        const now = await f.readState(sql);
        const r = now.replication;
        if (r && r.io === 'running' && r.sqlRunning) {
          return finish('repoint', node, t0, true, `replicates from ${newPrimary.address} after ${st.gtid.executed || '(nothing)'}`);
        }
        if (r && (r.sqlErrno || (r.io === 'stopped' && r.ioErrno))) {
          throw new StepError('repoint', node.id, 'replication-error', `IO ${r.ioErrno} ${r.ioError}; SQL ${r.sqlErrno} ${r.sqlError}`);
        }
        if (performance.now() > until) {
          throw new StepError('repoint', node.id, 'not-connected', `IO thread ${r?.io ?? 'missing'}: ${r?.ioError ?? ''}`);
        }
        signal.throwIfAborted();
        await sleep(50);
      }
    },
    { signal, deadlineMs, retryStale: true },
  );
}

export type RejoinOutcome = 'rejoined' | 'already' | 'needs-rebuild' | 'unreachable';

export interface RejoinResult extends StepResult {
  outcome: RejoinOutcome;
  /** Errant transactions when outcome is needs-rebuild. */
  errant: string[];
}

/**
 * Brings a former primary back as a replica of the new one when its history allows: fenced first if
 * it came back writable; a node with errant transactions stays read-only and is reported for rebuild.
 */
export async function rejoin(
  oldPrimary: StorageNode,
  newPrimary: StorageNode,
  repl: Credentials,
  signal: AbortSignal,
  o: RepointOptions & { probeDeadlineMs?: number } = {},
): Promise<RejoinResult> {
  const t0 = performance.now();
  const probeOpts = { deadlineMs: o.probeDeadlineMs ?? 2_000, signal };
  const done = (outcome: RejoinOutcome, detail: string, changed: boolean, errant: string[] = []): RejoinResult => ({
    ...finish('rejoin', oldPrimary, t0, changed, detail),
    outcome,
    errant,
  });
  let fenced = false;
  for (;;) {
    const [op, np] = await Promise.all([probeNode(oldPrimary, probeOpts), probeNode(newPrimary, probeOpts)]);
    const plan = rejoinPlan(op, np, { gtid: oldPrimary.flavor.gtid });
    switch (plan.action) {
      case 'wait':
        return done('unreachable', plan.reason, fenced);
      case 'fence-first':
        if (fenced) throw new StepError('rejoin', oldPrimary.id, 'verify-failed', 'still writable after fencing');
        await fence(oldPrimary, signal, o);
        fenced = true;
        continue;
      case 'already-following':
        return done('already', plan.reason, fenced);
      case 'needs-rebuild':
        return done('needs-rebuild', plan.reason, fenced, plan.errant);
      case 'repoint': {
        const r = await repoint(oldPrimary, newPrimary, repl, signal, o);
        return done(r.changed ? 'rejoined' : 'already', r.detail, fenced || r.changed);
      }
    }
  }
}
