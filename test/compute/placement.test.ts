// Placement of new compute nodes: listed or all computer machines, dead ones skipped, spread over the
// least used, three ports per node clear of every used port, null when the ranges are full.
import t from 'tap';
import { World } from '../../src/actors/world.js';
import { placeComps } from '../../src/compute/index.js';
import { ev0, Leader } from '../actors/helpers.js';

function scene(): { leader: Leader; cluster: number } {
  const leader = new Leader(new World());
  for (const h of ['10.1.0.1', '10.1.0.2', '10.1.0.3']) {
    leader.must({ kind: 'machine.create', hostaddr: h, role: 'computer', rackId: '1', compDatadir: '/c', totalMemMB: 1, totalCpuCores: 1, portRange: { lo: 47000, hi: 47008 } });
  }
  leader.must({ kind: 'machine.create', hostaddr: '10.0.0.1', role: 'storage', rackId: '1', datadir: '/d', logdir: '/l', walLogDir: '/w', totalMemMB: 1, totalCpuCores: 1 });
  const c = leader.must({ kind: 'cluster.create', haMode: 'rbr', maxStorageSizeGB: 1, maxConnections: 1, cpuCores: 1, innodbSizeMB: 16 });
  return { leader, cluster: Number(c.committed[0]!.event.agg.slice('cluster/'.length)) };
}

t.test('spreads over the least used hosts, lowest free slot first', (t) => {
  const { leader, cluster } = scene();
  leader.must({ kind: 'comp.add', cluster, hostaddr: '10.1.0.1', port: 47000 });
  const p = placeComps(leader.world, [], 4)!;
  t.same(p, [
    { hostaddr: '10.1.0.2', port: 47000 },
    { hostaddr: '10.1.0.3', port: 47000 },
    { hostaddr: '10.1.0.1', port: 47003 },
    { hostaddr: '10.1.0.2', port: 47003 },
  ]);
  t.same(placeComps(leader.world, ['10.1.0.1'], 2), [{ hostaddr: '10.1.0.1', port: 47003 }, { hostaddr: '10.1.0.1', port: 47006 }], 'only the listed host');
  t.equal(placeComps(leader.world, ['10.1.0.1'], 3), null, 'a range of 9 ports holds three nodes');
  t.equal(placeComps(leader.world, ['10.0.0.1'], 1), null, 'a storage machine is no candidate');
  t.end();
});

t.test('a port taken off the grid shifts the next slot past its block', (t) => {
  const { leader, cluster } = scene();
  leader.must({ kind: 'comp.add', cluster, hostaddr: '10.1.0.1', port: 47002 });
  t.same(placeComps(leader.world, ['10.1.0.1'], 1), [{ hostaddr: '10.1.0.1', port: 47005 }], '47000-47002 overlaps 47002-47004');
  t.equal(placeComps(leader.world, ['10.1.0.1'], 2), null, '47008 alone is no room for a block of three');
  t.end();
});

t.test('dead machines are skipped', (t) => {
  const { leader } = scene();
  leader.must({ kind: 'machine.set_health', hostaddr: '10.1.0.1', stats: 'dead', evidence: ev0 });
  leader.must({ kind: 'machine.set_health', hostaddr: '10.1.0.2', stats: 'dead', evidence: ev0 });
  t.same(placeComps(leader.world, [], 2), [{ hostaddr: '10.1.0.3', port: 47000 }, { hostaddr: '10.1.0.3', port: 47003 }]);
  t.equal(placeComps(leader.world, ['10.1.0.1'], 1), null);
  t.end();
});
