// Randomized fault schedules against a real rbr shard (3 MariaDB nodes, GTID + semi-sync) kept by a real
// 3-member cluster_mgr group, under a continuous writer. Everything follows from the seed: which fault,
// which target, how long it lasts. Each round waits for a settled shard, injects one fault (kill -9 or
// SIGSTOP of the primary, a replica or the manager leader, the leader and the primary at once, or the
// primary and a replica at once: a replica restarted while the primary is dead drops what it received
// but had not applied, so the other survivor must be the one promoted),
// heals it (restart / SIGCONT), and checks the invariants:
//   - no acknowledged write is lost (every acknowledged row is on the shard's primary at the end);
//   - the shard converges: one primary, the other nodes replicating from it, within the deadline
//     (or the old primary is marked for rebuild, which ends the schedule: there is no rebuild job yet);
//   - failover tasks end (none left running).
// A watcher also records how long two nodes were writable at once (read_only off, no source): after a
// SIGSTOP the old primary wakes up writable until it is fenced, but semi-sync (its replicas left it)
// keeps it from acknowledging anything, which the lost-write check would catch.
import { ContinuousWriter, checkAcknowledged } from './writer.js';
import { HA_APP, HaCluster, NODE_IDS, SHARD_ID, waitFor } from '../helpers/ha-cluster.js';
import type { MemberProc } from '../helpers/member-group.js';
import { Rng } from '../raft/sim/rng.js';
import { primaryFinder, realRole, settled } from '../switch/helpers.js';
import { setTimeout as sleep } from 'node:timers/promises';

export type FaultKind = 'kill-primary' | 'stop-primary' | 'kill-replica' | 'kill-leader' | 'stop-leader' | 'kill-leader-and-primary' | 'kill-primary-and-replica';
export const FAULTS: readonly FaultKind[] = ['kill-primary', 'stop-primary', 'kill-replica', 'kill-leader', 'stop-leader', 'kill-leader-and-primary', 'kill-primary-and-replica'];

export interface RoundResult {
  round: number;
  fault: FaultKind;
  /** Storage node or manager member hit. */
  target: string;
  holdMs: number;
  primaryBefore: number;
  primaryAfter: number | null;
  outcome: 'converged' | 'rebuild' | 'stuck';
  /** From the heal to a settled shard. */
  convergeMs: number | null;
  acked: number;
  lost: number;
  /** Longest time two nodes were writable at once, as the watcher saw it. */
  twoWritableMs: number;
  error?: string;
}

export interface ScheduleOptions {
  seed: number;
  rounds: number;
  /** Longest a fault is held before it is healed. */
  maxHoldMs?: number;
  convergeTimeoutMs?: number;
  log?: (s: string) => void;
  label?: string;
}

export interface ScheduleReport {
  seed: number;
  rounds: RoundResult[];
  violations: string[];
}

/** Polls every node's read_only and source; keeps the longest stretch with two writable primaries. */
function writableWatcher(ha: HaCluster): { stop: () => Promise<number> } {
  let stopped = false;
  let since: number | null = null;
  let longest = 0;
  const loop = (async () => {
    while (!stopped) {
      const roles = await Promise.all(NODE_IDS.map((id) => realRole(ha.instance(id), 300)));
      const writable = roles.filter((r) => r.reachable && r.readOnly === false && r.source === null).length;
      const now = Date.now();
      if (writable >= 2) since ??= now;
      else since = null;
      if (since !== null) longest = Math.max(longest, now - since);
      await sleep(100);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return longest;
    },
  };
}

async function leaderMember(ha: HaCluster): Promise<MemberProc> {
  return waitFor('a manager leader', async () => (await ha.leader())?.m, 30_000);
}

async function round(ha: HaCluster, n: number, kind: FaultKind, rng: Rng, o: Required<Pick<ScheduleOptions, 'maxHoldMs' | 'convergeTimeoutMs'>>, log: (s: string) => void): Promise<RoundResult> {
  const primaryBefore = await settled(ha, 120_000);
  const replicas = NODE_IDS.filter((id) => id !== primaryBefore);
  const holdMs = rng.range(0, o.maxHoldMs);
  const out: RoundResult = { round: n, fault: kind, target: '', holdMs, primaryBefore, primaryAfter: null, outcome: 'stuck', convergeMs: null, acked: 0, lost: 0, twoWritableMs: 0 };
  let writer: ContinuousWriter | null = null;
  writer = new ContinuousWriter({ getPrimary: primaryFinder(ha.shard.nodes, () => writer), credentials: HA_APP, firstId: n * 10_000_000, queryTimeoutMs: 10_000 });
  writer.start();
  const watcher = writableWatcher(ha);
  try {
    await writer.waitForAcks(50, 30_000);
    // The fault.
    const heal: (() => Promise<void>)[] = [];
    const hitNode = async (id: number, how: 'kill' | 'stop') => {
      const i = ha.instance(id);
      if (how === 'kill') {
        await i.kill9();
        heal.push(() => i.start());
      } else {
        i.pause();
        heal.push(() => Promise.resolve(i.resume()));
      }
    };
    const hitLeader = async (how: 'kill' | 'stop') => {
      const m = await leaderMember(ha);
      out.target = [out.target, `member ${m.id}`].filter(Boolean).join(' + ');
      if (how === 'kill') {
        await ha.group.kill9(m);
        heal.push(() => Promise.resolve(ha.group.start(m)));
      } else {
        m.proc!.kill('SIGSTOP');
        heal.push(() => Promise.resolve(void m.proc?.kill('SIGCONT')));
      }
    };
    switch (kind) {
      case 'kill-primary':
      case 'stop-primary':
        out.target = `node ${primaryBefore}`;
        await hitNode(primaryBefore, kind === 'kill-primary' ? 'kill' : 'stop');
        break;
      case 'kill-replica': {
        const r = rng.pick(replicas);
        out.target = `node ${r}`;
        await hitNode(r, 'kill');
        break;
      }
      case 'kill-leader':
      case 'stop-leader':
        await hitLeader(kind === 'kill-leader' ? 'kill' : 'stop');
        break;
      case 'kill-leader-and-primary':
        await hitLeader('kill');
        out.target += ` + node ${primaryBefore}`;
        await hitNode(primaryBefore, 'kill');
        break;
      case 'kill-primary-and-replica': {
        const r = rng.pick(replicas);
        out.target = `node ${primaryBefore} + node ${r}`;
        await hitNode(primaryBefore, 'kill');
        await hitNode(r, 'kill');
        break;
      }
    }
    log(`round ${n}: ${kind} ${out.target}, held ${holdMs} ms`);
    await sleep(holdMs);
    for (const h of heal) await h();
    const healedAt = Date.now();
    // Converged, or the old primary was marked for rebuild (it held a commit no replica acknowledged).
    const how = await waitFor(
      'the shard to converge',
      async () => {
        const v = await ha.view();
        if (v?.nodes.some((x) => x.shard === SHARD_ID && x.repair === 'needs_rebuild') && v.shards.find((s) => s.id === SHARD_ID)?.task === null) return 'rebuild' as const;
        return (await settled(ha, 1).catch(() => undefined)) !== undefined ? ('converged' as const) : undefined;
      },
      o.convergeTimeoutMs,
    ).catch(() => 'stuck' as const);
    out.outcome = how;
    out.convergeMs = how === 'stuck' ? null : Date.now() - healedAt;
    const sh = (await ha.view())?.shards.find((s) => s.id === SHARD_ID);
    out.primaryAfter = sh?.primary ?? null;
    // A few writes on the final primary, then every acknowledged write must be there.
    if (how !== 'stuck' && out.primaryAfter !== null) await writer.waitForAcks(20, 30_000, ha.instance(out.primaryAfter).address).catch(() => undefined);
  } catch (e) {
    out.error = e instanceof Error ? e.message : String(e);
  } finally {
    await writer.stop();
    out.twoWritableMs = await watcher.stop();
  }
  out.acked = writer.acked.length;
  if (out.primaryAfter !== null) {
    const c = await ha.instance(out.primaryAfter).connect();
    try {
      out.lost = (await checkAcknowledged(c, writer.acked.map((a) => a.id))).missing.length;
    } finally {
      await c.end();
    }
  }
  return out;
}

/** Runs `rounds` seeded fault rounds on a fresh test bed; a marked-for-rebuild node gets a fresh bed. */
export async function runSchedule(o: ScheduleOptions): Promise<ScheduleReport> {
  const rng = new Rng(o.seed);
  const log = o.log ?? (() => undefined);
  const opts = { maxHoldMs: o.maxHoldMs ?? 8_000, convergeTimeoutMs: o.convergeTimeoutMs ?? 90_000 };
  // Anti-flapping off: rounds fail the same shard over seconds apart.
  const sets = ['failover_min_interval_ms=0'];
  const label = o.label ?? 'chaos';
  let ha = new HaCluster({ label, sets });
  const rounds: RoundResult[] = [];
  const violations: string[] = [];
  try {
    await ha.start();
    for (let n = 1; n <= o.rounds; n++) {
      const kind = rng.pick(FAULTS);
      const r = await round(ha, n, kind, rng.fork(), opts, log);
      rounds.push(r);
      log(`round ${n}: ${JSON.stringify(r)}`);
      if (r.lost > 0) violations.push(`round ${n} (${kind}): ${r.lost} acknowledged writes lost`);
      if (r.outcome === 'stuck') violations.push(`round ${n} (${kind}): the shard did not converge within ${opts.convergeTimeoutMs} ms`);
      if (r.error !== undefined) violations.push(`round ${n} (${kind}): ${r.error}`);
      if (r.outcome !== 'converged' && n < o.rounds) {
        // No rebuild job yet: a fresh bed stands in for rebuilding the node.
        log('a node needs a rebuild (or the shard is stuck): fresh test bed');
        await ha.stop();
        ha = new HaCluster({ label, sets });
        await ha.start();
      }
    }
  } finally {
    await ha.stop();
  }
  return { seed: o.seed, rounds, violations };
}
