// Placement of storage nodes (cluster_mgr-api.md §4.1, with anti-affinity the original lacks): a
// shard's nodes go to different machines while there are enough, ports keep a stride of 4 clear of
// every used port, and a full range says so (null) instead of overlapping.
import t from 'tap';
import { World } from '../../src/actors/index.js';
import { place, STORAGE_STRIDE } from '../../src/jobs/shard-install.js';
import { Leader } from '../actors/helpers.js';

function world(hosts: number, range = { lo: 57000, hi: 57100 }) {
  const w = new World();
  const l = new Leader(w);
  for (let i = 1; i <= hosts; i++) {
    l.must({ kind: 'machine.create', hostaddr: `10.0.0.${i}`, role: 'storage', rackId: '1', datadir: '/d', logdir: '/l', walLogDir: '/w', totalMemMB: 1, totalCpuCores: 1, portRange: range });
  }
  const c = l.must({ kind: 'cluster.create', haMode: 'rbr', maxStorageSizeGB: 1, maxConnections: 1, cpuCores: 1, innodbSizeMB: 16 });
  return { w, l, cluster: Number(c.committed[0]!.event.agg.slice(8)) };
}

t.test('a shard spreads over machines, least used first', (t) => {
  const { w } = world(3);
  const p = place(w, 'storage', [], 3, STORAGE_STRIDE)!;
  t.same(new Set(p.map((x) => x.hostaddr)).size, 3, 'three different machines');
  t.ok(p.every((x) => x.port === 57000), 'the lowest slot of each range');
  t.end();
});

t.test('more nodes than machines: reuse, with ports a stride apart', (t) => {
  const { w } = world(2);
  const p = place(w, 'storage', [], 4, STORAGE_STRIDE)!;
  t.same(p.map((x) => x.hostaddr).sort(), ['10.0.0.1', '10.0.0.1', '10.0.0.2', '10.0.0.2']);
  const on1 = p.filter((x) => x.hostaddr === '10.0.0.1').map((x) => x.port).sort();
  t.same(on1, [57000, 57004]);
  t.end();
});

t.test('used ports are avoided by the whole stride; listed hosts only', (t) => {
  const { w, l, cluster } = world(3);
  l.must({ kind: 'shard.add', cluster, nodes: [{ hostaddr: '10.0.0.1', port: 57002 }] });
  const p = place(w, 'storage', ['10.0.0.1'], 2, STORAGE_STRIDE)!;
  t.same(p.map((x) => x.port), [57006, 57010], 'clear of 57002..57005');
  t.ok(p.every((x) => x.hostaddr === '10.0.0.1'));
  t.end();
});

t.test('add_nodes: hosts the shard already uses come last', (t) => {
  const { w } = world(3);
  const p = place(w, 'storage', [], 1, STORAGE_STRIDE, [], ['10.0.0.1', '10.0.0.2'])!;
  t.same(p, [{ hostaddr: '10.0.0.3', port: 57000 }]);
  t.end();
});

t.test('a full range is reported, not overlapped', (t) => {
  const { w } = world(1, { lo: 57000, hi: 57007 });
  t.equal(place(w, 'storage', [], 2, STORAGE_STRIDE)?.length, 2);
  t.equal(place(w, 'storage', [], 3, STORAGE_STRIDE), null);
  t.equal(place(w, 'storage', ['10.9.9.9'], 1, STORAGE_STRIDE), null, 'an unregistered host offers nothing');
  t.end();
});
