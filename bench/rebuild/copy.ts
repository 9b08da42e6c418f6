// One rebuild of a storage node in the rebuild benchmark, as an operator starts it: `rebuild_node`
// through POST /HttpService/Emit, timed from the request to get_status saying done. While the job's
// copy streams, the node agent's get_copy_status of the target port is sampled on this side's clock,
// which gives the rate seen from outside the agent (for pv_limit) besides the agent's own average.
import type { AgentClient } from '../../src/agent/client.js';
import type { AgentShard } from '../../test/e2e/agent-shard.js';

export interface RebuildResult {
  jobId: string;
  /** Bytes of the stream the target received. */
  bytes: number;
  /** Request → done. */
  ms: number;
  /** The agent's copy, start_copy → instance started on the copy (the rest of `ms` is the manager's). */
  agentCopyMs: number;
  /** The agent's average over its receiving step. */
  agentAvgBytesPerSec: number;
  /** Bytes per second between the first and the last sample taken while receiving (this side's clock). */
  sampledBytesPerSec: number | null;
  samples: number;
}

const SAMPLE_MS = 250;

/** Samples get_copy_status of `port` while `until` is pending; returns the receiving samples. */
function sampleCopy(agent: AgentClient, port: number, notBefore: number, until: Promise<unknown>): Promise<{ at: number; bytes: number }[]> {
  const samples: { at: number; bytes: number }[] = [];
  let over = false;
  void until.finally(() => (over = true)).catch(() => undefined);
  return (async () => {
    while (!over) {
      const s = await agent.copyStatus({ port }).catch(() => null);
      const at = Date.now();
      if (s && s.step === 'receiving' && Date.parse(s.started_at) >= notBefore - 1_000) samples.push({ at, bytes: s.bytes });
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
    return samples;
  })();
}

function rateOf(samples: { at: number; bytes: number }[]): number | null {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (!first || !last || last.at - first.at < 1_000) return null;
  return ((last.bytes - first.bytes) * 1_000) / (last.at - first.at);
}

export interface RebuildTarget {
  bed: AgentShard;
  /** The node to rebuild. */
  targetPort: number;
  pvLimitMb: number;
  timeoutMs: number;
}

/** Runs rebuild_node for the target (the job chooses the source: the healthy replica with the least delay). */
export async function rebuildJob(o: RebuildTarget): Promise<RebuildResult> {
  const env = o.bed.env;
  const agent = o.bed.agent();
  const t0 = Date.now();
  const a = await env.emit(await env.leader(), 'rebuild_node', {
    cluster_id: String(o.bed.cluster),
    shard_id: String(o.bed.shard),
    rb_nodes: [{ hostaddr: '127.0.0.1', port: String(o.targetPort), need_backup: '0', pv_limit: String(o.pvLimitMb) }],
    allow_pull_from_master: '0',
    allow_replica_delay: '30',
  });
  if (a.status !== 'accept') throw new Error(`bench:rebuild: rebuild_node not accepted: ${a.error_code} ${a.error_info}`);
  const end = env.wait(a.job_id, o.timeoutMs);
  const sampled = sampleCopy(agent, o.targetPort, t0, end);
  const r = await end;
  const ms = Date.now() - t0;
  const samples = await sampled;
  if (r.status !== 'done') throw new Error(`bench:rebuild: rebuild_node job ${a.job_id} ended ${r.status}: ${r.error_code} ${r.error_info}`);
  const s = await agent.copyStatus({ port: o.targetPort });
  if (s.step !== 'done' || Date.parse(s.started_at) < t0 - 1_000) throw new Error(`bench:rebuild: the agent shows no finished copy of job ${a.job_id} on port ${o.targetPort} (last: ${s.copy_id} ${s.step})`);
  return { jobId: a.job_id, bytes: s.bytes, ms, agentCopyMs: s.elapsed_ms, agentAvgBytesPerSec: s.avg_bytes_per_sec, sampledBytesPerSec: rateOf(samples), samples: samples.length };
}
