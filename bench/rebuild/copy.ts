// One rebuild of a storage node in the rebuild benchmark, as an operator starts it: `rebuild_node`
// through POST /HttpService/Emit, timed from the request to get_status saying done. While the job's
// copy streams, the node agent's get_copy_status of the target port is sampled on this side's clock,
// which gives the rate seen from outside the agent (for pv_limit) besides the agent's own average.
// Where the manager has no rebuild_node yet, the same copy is driven at the agent level
// (prepare_copy_source on the source, start_copy on the target, get_copy_status until done) and
// labelled so.
import type { AgentClient } from '../../src/agent/client.js';
import type { CopyStatus } from '../../src/agent/copy-target.js';
import type { AgentShard } from '../../test/e2e/agent-shard.js';

export interface RebuildResult {
  how: 'rebuild_node job' | 'agent copy (no rebuild_node job yet)';
  /** Bytes of the stream the target received. */
  bytes: number;
  /** Request → done. */
  ms: number;
  /** The agent's average over its receiving step. */
  agentAvgBytesPerSec: number;
  /** Bytes per second between the first and the last sample taken while receiving (this side's clock). */
  sampledBytesPerSec: number | null;
  samples: number;
  jobId?: string;
}

const SAMPLE_MS = 250;
const FINISHED = ['done', 'failed', 'aborted'];

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
  /** Node to rebuild and the healthy replica the agent-level copy takes its data from. */
  targetPort: number;
  sourcePort: number;
  pvLimitMb: number;
  copyId: string;
  timeoutMs: number;
}

/** Runs rebuild_node; null when the manager does not know the job type (then use agentCopy). */
export async function rebuildJob(o: RebuildTarget): Promise<RebuildResult | null> {
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
  // A manager without the job refuses the type (70001: "not available in this version", or unknown).
  if (a.status !== 'accept' && /not available in this version|Unrecongnized job type/.test(a.error_info)) return null;
  if (a.status !== 'accept') throw new Error(`bench:rebuild: rebuild_node not accepted: ${a.error_code} ${a.error_info}`);
  const end = env.wait(a.job_id, o.timeoutMs);
  const sampled = sampleCopy(agent, o.targetPort, t0, end);
  const r = await end;
  const ms = Date.now() - t0;
  const samples = await sampled;
  if (r.status !== 'done') throw new Error(`bench:rebuild: rebuild_node job ${a.job_id} ended ${r.status}: ${r.error_code} ${r.error_info}`);
  const s = await agent.copyStatus({ port: o.targetPort });
  if (s.step !== 'done' || Date.parse(s.started_at) < t0 - 1_000) throw new Error(`bench:rebuild: the agent shows no finished copy of job ${a.job_id} on port ${o.targetPort} (last: ${s.copy_id} ${s.step})`);
  return { how: 'rebuild_node job', bytes: s.bytes, ms, agentAvgBytesPerSec: s.avg_bytes_per_sec, sampledBytesPerSec: rateOf(samples), samples: samples.length, jobId: a.job_id };
}

/** The same copy through the agent calls the job makes (prepare_copy_source, start_copy, get_copy_status). */
export async function agentCopy(o: RebuildTarget): Promise<RebuildResult> {
  const env = o.bed.env;
  const agent = o.bed.agent();
  const t0 = Date.now();
  const ticket = await agent.prepareCopySource({ port: o.sourcePort });
  await agent.startCopy({ port: o.targetPort, sourceHost: '127.0.0.1', sourceAgentPort: env.agentPort, ticket, copyId: o.copyId, pvLimitMb: o.pvLimitMb, needBackup: false });
  const samples: { at: number; bytes: number }[] = [];
  let s: CopyStatus;
  for (;;) {
    s = await agent.copyStatus({ copyId: o.copyId });
    if (s.step === 'receiving') samples.push({ at: Date.now(), bytes: s.bytes });
    if (FINISHED.includes(s.step)) break;
    if (Date.now() - t0 > o.timeoutMs) throw new Error(`bench:rebuild: copy ${o.copyId} to port ${o.targetPort} still in step ${s.step} after ${o.timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, SAMPLE_MS));
  }
  const ms = Date.now() - t0;
  if (s.step !== 'done') throw new Error(`bench:rebuild: copy ${o.copyId} to port ${o.targetPort} ended ${s.step}: ${s.error ?? ''}`);
  return { how: 'agent copy (no rebuild_node job yet)', bytes: s.bytes, ms, agentAvgBytesPerSec: s.avg_bytes_per_sec, sampledBytesPerSec: rateOf(samples), samples: samples.length };
}
