// The failing metadata rows in the log: the leader reports its current set; only changes become
// events; the world (view, snapshot) holds the set on every member; rows cleared say how.
import t from 'tap';
import { World } from '../../src/actors/world.js';
import { Leader } from '../actors/helpers.js';

const SYSTEM = { system: 'metadata projection' };
const row = (table: string, key: string, reason: string) => ({ table, key, reason });

function leader(): Leader {
  const L = new Leader(new World());
  L.must({ kind: 'manager.add', id: 'm1', host: '10.9.0.1', raftPort: 8110, httpPort: 8010 });
  return L;
}

t.test('a new failing set is proposed once; the same set again is no change', (t) => {
  const L = leader();
  const failed = [row('comp_nodes', '4', 'passwd is longer than 16 characters'), row('shards', '2', 'its db_clusters row 1 is not written')];
  const r = L.must({ kind: 'manager.report_projection', id: 'm1', failed, gone: [] }, SYSTEM);
  t.strictSame(r.committed.map((c) => [c.event.type, c.event.data]), failed.map((f) => ['manager.projection_row_failed', f]));
  const view = L.world.view().projection.failedRows;
  t.strictSame(view.map((f) => [f.table, f.key, f.reason, f.by]), [
    ['comp_nodes', '4', 'passwd is longer than 16 characters', 'm1'],
    ['shards', '2', 'its db_clusters row 1 is not written', 'm1'],
  ], 'the view lists them by table then key, with who reported them');
  t.equal(view[0]!.since, L.at, 'since: the leader stamp');
  const again = L.check({ kind: 'manager.report_projection', id: 'm1', failed: [...failed].reverse(), gone: [] }, SYSTEM);
  t.match(again, { ok: false, code: 'no_change' }, 'observers propose conclusions, not samples');
  t.end();
});

t.test('cleared rows say written or gone; a new reason is a new failure; the snapshot keeps the set', (t) => {
  const L = leader();
  L.must({ kind: 'manager.report_projection', id: 'm1', failed: [row('comp_nodes', '4', 'a'), row('comp_nodes', '5', 'b'), row('shards', '2', 'c')], gone: [] }, SYSTEM);
  const r = L.must({ kind: 'manager.report_projection', id: 'm1', failed: [row('comp_nodes', '5', 'b2')], gone: [{ table: 'shards', key: '2' }] }, SYSTEM);
  t.strictSame(r.committed.map((c) => [c.event.type, c.event.data]), [
    ['manager.projection_row_cleared', { table: 'comp_nodes', key: '4', how: 'written' }],
    ['manager.projection_row_cleared', { table: 'shards', key: '2', how: 'gone' }],
    ['manager.projection_row_failed', { table: 'comp_nodes', key: '5', reason: 'b2' }],
  ]);
  const restored = World.restore(L.world.snapshot());
  t.strictSame(restored.view().projection, L.world.view().projection, 'restored from the snapshot');
  t.equal(restored.digest(), L.world.digest());
  L.must({ kind: 'manager.report_projection', id: 'm1', failed: [], gone: [] }, SYSTEM);
  t.strictSame(L.world.view().projection.failedRows, []);
  t.end();
});

t.test('a cleared event for a row not reported is refused at apply', (t) => {
  const L = leader();
  const ev = { type: 'manager.projection_row_cleared', v: 1, agg: 'manager/m1', at: L.at, cause: SYSTEM, data: { table: 'comp_nodes', key: '1', how: 'written' } } as const;
  const r = L.world.check([ev]);
  t.match(r, { ok: false, reason: /comp_nodes row 1 is not reported failing/ });
  t.end();
});
