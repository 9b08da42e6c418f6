// Sync answers from a World in-process: get_status keeps job_id/job_type, reports progress, never
// answers a secret from a job's result; unknown ids answer 70104.
import t from 'tap';
import { World, checkCommand, type Command } from '../../src/actors/index.js';
import { encodeBatch } from '../../src/events/index.js';
import { clusterDetail, jobStatus, listNoSwitch } from '../../src/http/sync-answers.js';

function run(w: World, cmd: Command): void {
  const r = checkCommand(w, cmd, { at: Date.now(), cause: { user: 'u' } });
  if (!r.ok) throw new Error(r.reason);
  const a = w.applyEntry(w.applied + 1, encodeBatch(r.events));
  if (!a.ok) throw new Error(a.reason);
}

t.test('get_status', (t) => {
  const w = new World();
  run(w, { kind: 'job.start', jobType: 'create_machine', request: { hostaddr: '10.0.0.1', machine_type: 'computer', rack_id: '0', comp_datadir: '/c', total_mem: '1', total_cpu_cores: '1' } });
  run(w, { kind: 'job.step_start', job: 1, step: 'register', index: 0, total: 2 });
  const mid = jobStatus(w, '1');
  t.match(mid, { status: 'ongoing', job_id: '1', job_type: 'create_machine', attachment: { step: { name: 'register', index: 0, total: 2 }, progress: { done: 0 } } });
  run(w, { kind: 'job.step_finish', job: 1, step: 'register', ok: true, done: 1, total: 2 });
  run(w, { kind: 'job.finish', job: 1, result: { cluster_id: '3', computer_user: 'abc', computer_pwd: 'secret!', nested: { password: 'x', keep: 1 } } });
  const end = jobStatus(w, '1');
  t.match(end, { status: 'done', error_code: 0, job_id: '1', job_type: 'create_machine', attachment: { cluster_id: '3', computer_user: 'abc', nested: { keep: 1 } } });
  t.notOk(JSON.stringify(end).includes('secret!'), 'the password in the result is not answered');
  t.notOk(JSON.stringify(end).includes('"password"'));
  for (const id of ['2', '', 'x', '1 OR 1=1', '9'.repeat(30)]) t.match(jobStatus(w, id), { status: 'failed', error_code: 70104, job_type: '' }, `unknown id ${JSON.stringify(id)}`);
  t.end();
});

t.test('detail and no-switch list for unknown clusters name the field', (t) => {
  const w = new World();
  t.match(clusterDetail(w, 5), { status: 'failed', error_code: 70005, error_info: /paras\.cluster_id: cluster 5 does not exist/ });
  t.match(clusterDetail(w, undefined), { status: 'done', attachment: { work_mode: 'enterprise' } });
  t.match(listNoSwitch(w, 5, Date.now()), { status: 'failed', error_info: /paras\.cluster_id/ });
  t.same(listNoSwitch(w, 'all', Date.now()).attachment, { value: [] });
  t.end();
});
