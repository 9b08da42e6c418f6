// XPanel's metadata-cluster page: add_nodes, delete_node and manual_switch with cluster_id/shard_id
// "-1" are refused naming the field and the reason (the metadata shard is not managed here yet), and
// nothing is created.
import t from 'tap';
import { World } from '../../src/actors/world.js';
import { Leader } from './helpers.js';

t.test('the "-1" forms are refused clearly before a job exists', (t) => {
  const L = new Leader(new World());
  const forms: [string, Record<string, unknown>][] = [
    ['add_nodes', { cluster_id: '-1', shard_id: '-1', nodes: '1' }],
    ['delete_node', { cluster_id: '-1', shard_id: '-1', hostaddr: '10.0.0.1', port: '57001' }],
    ['manual_switch', { cluster_id: '-1', shard_id: '-1', master_hostaddr: '10.0.0.1_57001' }],
    ['add_nodes', { cluster_id: '3', shard_id: '-1', nodes: '1' }],
  ];
  for (const [jobType, request] of forms) {
    const r = L.check({ kind: 'job.start', jobType, request });
    t.match(r, { ok: false, code: 'invalid_argument', field: request.cluster_id === '-1' ? 'paras.cluster_id' : 'paras.shard_id', reason: /^"-1" names the metadata shard: .* is not supported/ }, jobType);
  }
  t.equal(L.world.next.job, 1, 'no job was created');
  // Other job types keep their own checks: "-1" is just a bad id there.
  t.match(L.check({ kind: 'job.start', jobType: 'delete_shard', request: { cluster_id: '-1', shard_id: '1' } }), { ok: false, field: 'paras.cluster_id', reason: /digits/ });
  t.end();
});
