// One trial on an agent-run rbr shard (3 MariaDB nodes installed by the node agent through the API, a
// 3-member cluster_mgr group): a SIGSTOP or a kill -9 of the primary under a continuous writer (an
// application account that finds the writable node itself), measured from the fault:
//   detect / promote   the failover.start / failover.finish events
//   ack                the first write acknowledged by the new primary
//   fence              how the old primary was fenced (kill: by its node agent)
//   truncated          binlog tails its crash recovery dropped (commits that waited for an ACK)
//   back               the old primary rejoined as a replica (or was marked needs_rebuild)
//   lost               acknowledged writes missing on the new primary, must be 0
// Used by bench:fence (alternating faults) and bench:failover --fault sigstop.
import { ContinuousWriter, checkAcknowledged } from '../../test/chaos/writer.js';
import { AgentShard, APP, caughtUp, pidAlive, waitFor } from '../../test/e2e/agent-shard.js';
import { primaryFinder } from '../../test/switch/helpers.js';
import { log } from '../failover/common.js';

export interface Trial {
  trial: number;
  fault: 'sigstop' | 'kill9';
  old: number;
  new: number | null;
  detect_ms: number | null;
  promote_ms: number | null;
  first_ack_ms: number | null;
  fence: string | null;
  truncated: number;
  outcome: 'rejoined' | 'needs_rebuild' | 'stuck';
  back_ms: number | null;
  acked: number;
  lost: number;
}

export async function trial(bed: AgentShard, n: number, fault: Trial['fault']): Promise<Trial> {
  const s0 = await bed.settled(120_000);
  // Every replica has applied what the primary holds (the last trial's old primary catches up after
  // its restart): a trial measures the failover, not the drain of that backlog.
  const pc = await bed.adminConnection(s0.primary.port);
  try {
    for (const r of s0.nodes.filter((x) => x.id !== s0.primary.id)) {
      const rc = await bed.adminConnection(r.port);
      await caughtUp(pc, rc, 60).finally(() => rc.end());
    }
  } finally {
    await pc.end();
  }
  const old = s0.primary;
  const before = s0.shard.last?.task ?? null;
  const truncBefore = bed.truncations(old.port).length;
  const out: Trial = { trial: n, fault, old: old.id, new: null, detect_ms: null, promote_ms: null, first_ack_ms: null, fence: null, truncated: 0, outcome: 'stuck', back_ms: null, acked: 0, lost: 0 };
  // The writer finds the writable primary as a compute node does: it asks the nodes after a failed
  // write (as bench:failover's kill -9 writer), not the manager.
  let writer: ContinuousWriter | null = null;
  writer = new ContinuousWriter({ getPrimary: primaryFinder(await bed.roleTargets(), () => writer), credentials: APP, firstId: n * 10_000_000, queryTimeoutMs: 5_000 });
  writer.start();
  const pid = await bed.pidOf(old.port);
  if (pid === null) throw new Error(`the agent does not run node ${old.id}`);
  try {
    await writer.waitForAcks(200, 30_000);
    const t0 = Date.now();
    process.kill(pid, fault === 'sigstop' ? 'SIGSTOP' : 'SIGKILL');
    const done = await waitFor('the failover to finish', async () => {
      const s = await bed.state();
      const l = s.shard.last;
      return s.shard.task === null && l && l.task !== before && l.outcome === 'finished' ? s : undefined;
    }, 60_000);
    const last = done.shard.last!;
    const neu = done.node(last.primary)!;
    out.new = neu.id;
    out.detect_ms = last.startedAt - t0;
    out.promote_ms = last.endedAt - t0;
    out.fence = done.node(old.id)?.fence?.method ?? null;
    await writer.waitForAcks(50, 30_000, `${neu.hostaddr}:${neu.port}`);
    const first = writer.firstAckAfter(t0, `${neu.hostaddr}:${neu.port}`);
    out.first_ack_ms = first ? first.at - t0 : null;
    const back = await waitFor('the old primary to rejoin or be marked for rebuild', async () => {
      const nd = (await bed.state()).node(old.id);
      return nd && (nd.repair === 'ok' || nd.repair === 'needs_rebuild') ? nd : undefined;
    }, 90_000).catch(() => null);
    if (back) {
      out.outcome = back.repair === 'ok' ? 'rejoined' : 'needs_rebuild';
      out.back_ms = Date.now() - t0;
    }
    out.truncated = bed.truncations(old.port).length - truncBefore;
    await writer.stop();
    const ids = writer.acked.map((a) => a.id);
    out.acked = ids.length;
    const c = await bed.adminConnection(neu.port);
    try {
      out.lost = (await checkAcknowledged(c, ids)).missing.length;
    } finally {
      await c.end();
    }
  } finally {
    await writer.stop().catch(() => undefined);
    // A hang the agent did not end would stay a hang: end it here so the next trial starts clean.
    if (fault === 'sigstop' && pidAlive(pid)) {
      log(`trial ${n}: the hung server ${pid} is still there (not killed by the fence); killing it`);
      process.kill(pid, 'SIGKILL');
    }
  }
  return out;
}

