// mysql_pg_install_log rows from the jobs' recorded installs and uninstalls (job.instance_task), in the
// original's shape (API reference §4.5): one row per job and install type, job_info the pieces sent
// ([{piece: "ip_port", content: <agent request>}]), memo the answers collected ({task_spec_info,
// response_array: [{piece: "<agent job>#<ip:port>#hash<n>", info: <answer>}]}). The row's status is
// ongoing while a piece is, else that of its latest piece (an install moved to another port ends done).
import type { JobView } from '../actors/index.js';
import type { InstanceTaskRecord } from '../actors/machines/job.js';
import { JOB_INFO_MAX_BYTES, jobInfoText, type InstallLog } from '../metadata/index.js';

const AGENT_JOB: Record<InstallLog['installType'], string> = {
  mysql: 'install_mysql',
  uninstall_mysql: 'uninstall_mysql',
  postgres: 'install_postgres',
  uninstall_postgres: 'uninstall_postgres',
};

/** JSON text of the pieces, dropping the oldest while the TEXT column could not hold it. */
function fitted<T>(items: T[], wrap: (xs: T[]) => unknown): string {
  let from = 0;
  let text = jobInfoText(wrap(items));
  while (text.length > JOB_INFO_MAX_BYTES && from < items.length) text = jobInfoText(wrap(items.slice(++from)));
  return text;
}

function row(jobId: number, type: InstallLog['installType'], recs: InstanceTaskRecord[]): InstallLog {
  const ongoing = recs.some((r) => r.status === 'ongoing');
  const ended = recs.filter((r) => r.endedAt !== null);
  const jobInfo = fitted(recs, (xs) => xs.map((r) => ({ piece: `${r.hostaddr}_${r.port}`, content: r.request })));
  const memo =
    ended.length === 0
      ? null
      : fitted(ended, (xs) => ({
          task_spec_info: AGENT_JOB[type],
          response_array: xs.map((r, i) => ({ piece: `${AGENT_JOB[type]}#${r.hostaddr}:${r.port}#hash${i}`, info: r.answer })),
        }));
  return {
    generalLogId: jobId,
    installType: type,
    status: ongoing ? 'ongoing' : recs[recs.length - 1]!.status === 'failed' ? 'failed' : 'done',
    whenStarted: Math.min(...recs.map((r) => r.startedAt)),
    whenEnded: ongoing ? null : Math.max(...ended.map((r) => r.endedAt!)),
    jobInfo,
    memo,
  };
}

export function installLogRows(jobs: readonly JobView[]): InstallLog[] {
  const out: InstallLog[] = [];
  for (const j of jobs) {
    const byType = new Map<InstallLog['installType'], InstanceTaskRecord[]>();
    for (const r of j.instanceTasks) byType.set(r.task, [...(byType.get(r.task) ?? []), r]);
    for (const [type, recs] of byType) out.push(row(j.id, type, recs));
  }
  return out;
}
