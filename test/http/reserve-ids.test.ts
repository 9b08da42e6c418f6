// Adoption gap: ids found in use in kunlun_metadata_db (old job rows) are reserved in the log, so a job
// created afterwards never reuses a history row's id. In-process against a World.
import t from 'tap';
import { World, type Command } from '../../src/actors/index.js';
import { checkCommand } from '../helpers/job-catalog.js';
import { encodeBatch } from '../../src/events/index.js';

function run(w: World, cmd: Command): ReturnType<typeof checkCommand> {
  const r = checkCommand(w, cmd, { at: Date.now(), cause: { system: 'test' } });
  if (r.ok) {
    const a = w.applyEntry(w.applied + 1, encodeBatch(r.events));
    if (!a.ok) throw new Error(a.reason);
  }
  return r;
}

t.test('reserve_ids raises the counters, never lowers them, and a new job starts above', (t) => {
  const w = new World();
  t.equal(run(w, { kind: 'manager.reserve_ids', id: 'm1', next: { job: 50 } }).ok, false, 'refused for a non-member');
  t.equal(run(w, { kind: 'manager.add', id: 'm1', host: '127.0.0.1', raftPort: 1000, httpPort: 1001 }).ok, true);
  const r = run(w, { kind: 'manager.reserve_ids', id: 'm1', next: { job: 50, cluster: 7 } });
  t.equal(r.ok, true);
  t.equal(w.next.job, 50);
  t.equal(w.next.cluster, 7);
  const again = run(w, { kind: 'manager.reserve_ids', id: 'm1', next: { job: 10, cluster: 7 } });
  t.equal(again.ok, false, 'nothing to raise');
  if (!again.ok) t.equal(again.code, 'no_change');
  t.equal(w.next.job, 50, 'not lowered');
  const job = run(w, { kind: 'job.start', jobType: 'create_machine', request: { hostaddr: '10.1.1.1', machine_type: 'computer', rack_id: '0', comp_datadir: '/c', total_mem: '10', total_cpu_cores: '1' } });
  t.equal(job.ok, true, JSON.stringify(job));
  if (job.ok) t.equal(job.events.find((e) => e.type === 'job.created')?.agg, 'job/50');
  // The counters survive a snapshot.
  t.equal(World.restore(w.snapshot()).next.job, 51);
  t.end();
});
