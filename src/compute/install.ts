// A compute node's PostgreSQL through its machine's node agent, idempotent: list_instances first, so a
// rerun (a new leader resuming the job) neither installs twice nor mistakes another instance for
// ours. An original node_mgr has no list_instances; then the install is simply sent.
import { AgentError, type AgentClient, type AgentInstance } from '../agent/client.js';
import { checkLeading } from '../reconcile/host.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface CompInstall {
  id: number;
  hostaddr: string;
  port: number;
  user: string;
  password: string;
}

export class CompInstallError extends Error {
  override name = 'CompInstallError';
}

/** The agent's instance on `port`, null when none, undefined when the agent cannot tell (node_mgr). */
export async function instanceOn(agent: AgentClient, port: number): Promise<AgentInstance | null | undefined> {
  try {
    const list = await agent.listInstances({ port });
    return list.instances.find((i) => i.port === port) ?? null;
  } catch (e) {
    if (e instanceof AgentError && e.kind === 'failed') return undefined;
    throw e;
  }
}

/** Waits while a job of the agent (a previous leader's install) is still working on the port. */
async function settled(agent: AgentClient, port: number, signal: AbortSignal, timeoutMs: number): Promise<AgentInstance | null | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    checkLeading(signal);
    const inst = await instanceOn(agent, port);
    if (inst == null || (inst.status !== 'installing' && inst.status !== 'uninstalling')) return inst;
    if (Date.now() > deadline) throw new CompInstallError(`${agent.address}: the instance on port ${port} is still ${inst.status}`);
    await sleep(500);
  }
}

/** 'installed' when this call installed it, 'present' when it already ran there. */
export async function ensureCompInstalled(
  agent: AgentClient,
  comp: CompInstall,
  opts: { signal: AbortSignal; requestId: string; waitMs?: number },
): Promise<'installed' | 'present'> {
  const inst = await settled(agent, comp.port, opts.signal, opts.waitMs ?? 600_000);
  if (inst) {
    if (inst.type !== 'computer' || (inst.compute_node_id !== undefined && inst.compute_node_id !== comp.id)) {
      const what = inst.type === 'computer' ? `compute node ${inst.compute_node_id}` : 'a storage instance';
      throw new CompInstallError(`${comp.hostaddr}:${comp.port} already holds ${what}, not compute node ${comp.id}`);
    }
    // Ours, from an interrupted run. The agent's keepalive restarts a dead one; a stopped one is started.
    if (inst.status === 'stopped') await agent.controlInstance({ type: 'computer', control: 'start', ip: comp.hostaddr, port: comp.port });
    return 'present';
  }
  checkLeading(opts.signal);
  await agent.installPostgres(
    { pgPort: comp.port, computeNodeId: comp.id, user: comp.user, password: comp.password, bindAddress: comp.hostaddr },
    { requestId: opts.requestId, taskSpecInfo: `install_postgres_comp${comp.id}` },
  );
  return 'installed';
}

/** Uninstalls the comp's instance; nothing there is fine (rollbacks may send it twice). */
export async function ensureCompUninstalled(
  agent: AgentClient,
  comp: { id: number; hostaddr: string; port: number },
  opts: { signal: AbortSignal; requestId: string; waitMs?: number },
): Promise<'uninstalled' | 'absent'> {
  const inst = await settled(agent, comp.port, opts.signal, opts.waitMs ?? 600_000);
  if (inst === null) return 'absent';
  if (inst && (inst.type !== 'computer' || (inst.compute_node_id !== undefined && inst.compute_node_id !== comp.id))) {
    // Not ours (the port was reused): leave it alone.
    return 'absent';
  }
  checkLeading(opts.signal);
  await agent.uninstallPostgres(
    { pgPort: comp.port, bindAddress: comp.hostaddr, computeNodeId: comp.id },
    { requestId: opts.requestId, taskSpecInfo: `uninstall_postgres_comp${comp.id}` },
  );
  return 'uninstalled';
}
