// A job records each install and uninstall it asks an agent for (mysql_pg_install_log, API reference
// §4.5): once when it sends it, once when the answer is in. Only a running job records; the request
// and answer are kept without secrets and bounded, they are shown to operators as they are.
import type { Json } from '../../events/schema.js';
import type { InstallTask } from '../../events/vocab.js';
import type { World } from '../world.js';
import { refuse, type CommandResult, type Emitter } from './common.js';
import { withoutSecrets } from './paras.js';

export type InstanceTaskCommand = {
  kind: 'job.record_instance_task';
  job: number;
  task: InstallTask;
  hostaddr: string;
  port: number;
  status: 'ongoing' | 'done' | 'failed';
  request?: Json;
  answer?: Json;
};

/** Longest request or answer kept, as JSON text: an agent's answer can be long (a log tail). */
const MAX_TEXT = 4096;

function bounded(x: Json | undefined): Json | undefined {
  if (x === undefined) return undefined;
  const clean = withoutSecrets(x);
  const text = JSON.stringify(clean);
  return text.length <= MAX_TEXT ? clean : `${text.slice(0, MAX_TEXT)}…`;
}

export function checkInstanceTask(world: World, cmd: InstanceTaskCommand, e: Emitter): CommandResult {
  const j = world.job(cmd.job);
  if (j === null) return refuse('not_found', `job ${cmd.job} does not exist`, 'job', 70104);
  if (j.status === 'done' || j.status === 'failed') return refuse('invalid_state', `job ${j.id} has ended (${j.status})`, 'job');
  if (j.status === 'not_started') return refuse('invalid_state', `job ${j.id} has not started a step`, 'job');
  const request = bounded(cmd.request);
  const answer = bounded(cmd.answer);
  return e
    .emit('job.instance_task', `job/${j.id}`, {
      task: cmd.task,
      hostaddr: cmd.hostaddr,
      port: cmd.port,
      status: cmd.status,
      ...(request !== undefined ? { request } : {}),
      ...(answer !== undefined ? { answer } : {}),
    })
    .done();
}
