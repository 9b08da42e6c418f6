// The SSE buffer in-process: backfilled from the entries the state machine holds with the same seqs
// the live path gives, resume after a seq, and a gap when the asked-for events are gone.
import t from 'tap';
import type { Command } from '../../src/actors/index.js';
import { checkCommand } from '../helpers/job-catalog.js';
import { encodeBatch } from '../../src/events/index.js';
import { WorldMachine } from '../../src/member/world-machine.js';
import { EventBuffer, type StreamedEvent } from '../../src/http/event-stream.js';

let index = 0;
function apply(sm: WorldMachine, cmd: Command): void {
  const r = checkCommand(sm.world, cmd, { at: Date.now(), cause: { user: 'tester' } });
  if (!r.ok) throw new Error(r.reason);
  index++;
  sm.apply([{ index, term: 1, data: encodeBatch(r.events) } as never]);
}
const machine = (i: number): Command => ({ kind: 'job.start', jobType: 'create_machine', request: { hostaddr: `10.0.0.${i}`, machine_type: 'computer', rack_id: '0', comp_datadir: '/c', total_mem: '1', total_cpu_cores: '1' } });

t.test('backfill, live events, resume and gap', (t) => {
  const sm = new WorldMachine();
  apply(sm, { kind: 'manager.add', id: 'm1', host: '127.0.0.1', raftPort: 1, httpPort: 2 });
  sm.apply([{ index: ++index, term: 1, data: new Uint8Array(0) } as never]); // a leader no-op
  for (let i = 1; i <= 5; i++) apply(sm, machine(i));
  const buf = new EventBuffer(sm, 4);
  t.equal(buf.newest, sm.world.seq, 'backfill ends at the world seq');
  t.equal(buf.oldest, sm.world.seq - 3, 'only the newest `capacity` events');
  const all = buf.after(buf.oldest - 1) as StreamedEvent[];
  t.same(all.map((e) => e.type), ['job.created', 'job.created', 'job.created', 'job.created']);
  t.same(all.at(-1)!.cause, { user: 'tester' });
  t.equal(buf.after(0), 'gap', 'events before the buffer are a gap');
  const seen: StreamedEvent[] = [];
  buf.subscribe((e) => seen.push(e));
  apply(sm, machine(6));
  t.equal(seen.length, 1);
  t.equal(seen[0]!.seq, sm.world.seq, 'live events carry the chain seq');
  t.equal(seen[0]!.seq, all.at(-1)!.seq + 1, 'backfilled and live seqs are contiguous');
  t.same(buf.after(seen[0]!.seq - 1), seen);
  t.same(buf.after(seen[0]!.seq), []);
  t.end();
});
