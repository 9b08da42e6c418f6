// Sync answers from a World in-process: get_status keeps job_id/job_type, reports progress, never
// answers a secret from a job's result; unknown ids answer 70104. A request answered when its job ends
// (set_variable): `ongoing` with the job's id past the bound, else the job's outcome, id and result.
import t from 'tap';
import { World, type Command } from '../../src/actors/index.js';
import { checkCommand } from '../helpers/job-catalog.js';
import { encodeBatch } from '../../src/events/index.js';
import { clusterDetail, jobStatus, listNoSwitch } from '../../src/http/sync-answers.js';
import { jobOutcomeAnswer, waitForJobEnd } from '../../src/http/job-wait.js';

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
  t.match(mid, { status: 'ongoing', job_id: '1', job_type: 'create_machine', attachment: { step: 'register', progress: { done: 0 } } });
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

t.test('set_variable\'s answer: a job that has not ended within the bound, then ends', async (t) => {
  const w = new World();
  run(w, { kind: 'job.start', jobType: 'create_machine', request: { hostaddr: '10.0.0.1', machine_type: 'computer', rack_id: '0', comp_datadir: '/c', total_mem: '1', total_cpu_cores: '1' } });
  const t0 = Date.now();
  const none = await waitForJobEnd({ world: w }, 1, 120, 10);
  t.equal(none, null, 'not ended');
  t.ok(Date.now() - t0 >= 120, 'waited the bound');
  t.match(jobOutcomeAnswer('set_variable', '1', none, 20_000), {
    status: 'ongoing',
    error_code: 0,
    job_id: '1',
    job_type: 'set_variable',
    error_info: /^set_variable: job 1 has not ended within 20 s; it goes on: follow it with get_status \(job_id 1\)$/,
    attachment: { result: 'false' },
  });
  const later = waitForJobEnd({ world: w }, 1, 5_000, 10);
  run(w, { kind: 'job.finish', job: 1, result: { old_value: '151', new_value: '321' } });
  const done = await later;
  t.same(jobOutcomeAnswer('set_variable', '1', done, 20_000), {
    status: 'done',
    error_code: 0,
    error_info: '',
    job_id: '1',
    job_type: 'set_variable',
    attachment: { result: 'true', old_value: '151', new_value: '321' },
  });
});

t.test('set_variable\'s answer: a failed job answers its code and reason', async (t) => {
  const w = new World();
  run(w, { kind: 'job.start', jobType: 'create_machine', request: { hostaddr: '10.0.0.1', machine_type: 'computer', rack_id: '0', comp_datadir: '/c', total_mem: '1', total_cpu_cores: '1' } });
  run(w, { kind: 'job.fail', job: 1, code: 70005, info: 'storage node 10.0.0.1:3306 refused the value' });
  t.match(jobOutcomeAnswer('set_variable', '1', await waitForJobEnd({ world: w }, 1, 100), 20_000), {
    status: 'failed',
    error_code: 70005,
    error_info: 'set_variable: storage node 10.0.0.1:3306 refused the value',
    job_id: '1',
    attachment: { result: 'false' },
  });
});
