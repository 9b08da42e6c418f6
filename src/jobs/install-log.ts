// mysql_pg_install_log (API reference §4.5): every install and uninstall of a storage or compute
// instance a job asks an agent for is recorded in the log, once when it is sent and once with its
// answer, so the projection (and any later leader) writes the same rows. The agent a job uses is
// wrapped: whatever path installs (shard jobs, compute jobs, rollbacks, moves to another port) is
// recorded, and nothing else changes.
import type { InstallTask } from '../events/vocab.js';
import type { AgentClient, CallOptions } from '../agent/client.js';
import { withoutSecrets } from '../actors/commands/paras.js';
import type { InstanceTaskCommand } from '../actors/commands/instance-tasks.js';

/** What a job records of one call (job.record_instance_task without its kind and job). */
export type InstanceTaskReport = Omit<InstanceTaskCommand, 'kind' | 'job'>;

/** Proposes one record (job.record_instance_task for the job). */
export type RecordInstanceTask = (r: InstanceTaskReport) => Promise<void>;

const TASKS: Readonly<Record<string, { task: InstallTask; agentJob: string; port: (p: Record<string, unknown>) => number }>> = {
  installMysql: { task: 'mysql', agentJob: 'install_mysql', port: (p) => Number(p.port) },
  uninstallMysql: { task: 'uninstall_mysql', agentJob: 'uninstall_mysql', port: (p) => Number(p.port) },
  installPostgres: { task: 'postgres', agentJob: 'install_postgres', port: (p) => Number(p.pgPort) },
  uninstallPostgres: { task: 'uninstall_postgres', agentJob: 'uninstall_postgres', port: (p) => Number(p.pgPort) },
};


/** The agent of `hostaddr`, its four install calls recorded through `record`. */
export function recordingAgent(agent: AgentClient, hostaddr: string, record: RecordInstanceTask): AgentClient {
  return new Proxy(agent, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      const spec = typeof prop === 'string' && Object.hasOwn(TASKS, prop) ? TASKS[prop] : undefined;
      if (spec === undefined || typeof value !== 'function') return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      return async (p: Record<string, unknown>, o: CallOptions = {}) => {
        const port = spec.port(p);
        const request = withoutSecrets({ job_type: spec.agentJob, cluster_mgr_request_id: o.requestId ?? '', task_spec_info: o.taskSpecInfo ?? '', paras: p });
        await record({ task: spec.task, hostaddr, port, status: 'ongoing', request });
        let answer: unknown;
        try {
          answer = await (value as (p: unknown, o: CallOptions) => Promise<unknown>).call(target, p, o);
        } catch (e) {
          // The failure stands whether or not it can be recorded (a lost leadership ends the job's run).
          await record({ task: spec.task, hostaddr, port, status: 'failed', answer: { status: 'failed', info: (e as Error).message.slice(0, 1000) } }).catch(() => undefined);
          throw e;
        }
        await record({ task: spec.task, hostaddr, port, status: 'done', answer: withoutSecrets(answer) }).catch(() => undefined);
        return answer;
      };
    },
  });
}
