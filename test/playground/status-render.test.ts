// `cluster-mgr status` rendering from a view: the leader is marked, the primary comes first in its shard,
// a replica's lag comes from the leader's live probes (transactions and seconds behind, or which
// replication thread is not running), notes say when a shard is failing over or a node is
// fenced; and the member list grows from the view's managers.
import t from 'tap';
import { lagOf, renderStatus, type StatusView } from '../../src/cli/status.js';
import { lagText, liveNode, type LiveNode, type LiveProbes } from '../../src/shard-ha/live.js';
import type { ProbeResult } from '../../src/storage-node/node-state.js';

const node = (id: number, shard: number, port: number, extra: Partial<StatusView['nodes'][number]> = {}): StatusView['nodes'][number] => ({
  id, cluster: 1, shard, hostaddr: '127.0.0.1', port, status: 'active', memberState: 'replica', access: 'read_only', health: 'alive', repair: 'ok', source: null, evidence: null, ...extra,
});

const view: StatusView = {
  applied: 42,
  clusters: [{ id: 1, name: 'cluster_1', nickName: 'demo', haMode: 'rbr', status: 'inuse', shards: [1, 2], comps: [1] }],
  shards: [
    { id: 1, cluster: 1, name: 'shard_1', status: 'inuse', ha: 'normal', primary: 2, nodes: [1, 2, 3] },
    { id: 2, cluster: 1, name: 'shard_2', status: 'inuse', ha: 'failing_over', primary: 4, nodes: [4] },
  ],
  nodes: [
    node(1, 1, 57000, { repair: 'fenced', health: 'dead' }),
    node(2, 1, 57004, { memberState: 'source', access: 'writable' }),
    node(3, 1, 57008, { evidence: { summary: 'node 3 answers', facts: {} } }),
    node(4, 2, 57012, { memberState: 'source', access: 'writable', health: 'dead' }),
  ],
  comps: [{ id: 1, cluster: 1, name: 'comp1', hostaddr: '127.0.0.1', port: 47000, status: 'active' }],
  jobs: [{ id: 3, jobType: 'create_cluster', status: 'done', step: null }, { id: 5, jobType: 'manual_switch', status: 'ongoing', step: { name: 'promote', index: 2, total: 5 } }],
  managers: [
    { id: '127.0.0.1:58001', host: '127.0.0.1', raftPort: 58001, httpPort: 58000, memberState: 'replica', electedTerm: null },
    { id: '127.0.0.1:58011', host: '127.0.0.1', raftPort: 58011, httpPort: 58010, memberState: 'source', electedTerm: 2 },
  ],
};

const sample = (node: number, o: Partial<LiveNode>): LiveNode => {
  const l = { node, shard: 1, at: 0, probe: 'ok' as const, ms: 3, readOnly: true, io: 'running' as const, sqlRunning: true, secondsBehind: 0, behindTrx: 0, semiSyncClients: 0, error: null, ...o };
  return { ...l, lag: lagText(l) };
};
const live: LiveProbes = {
  observer: '127.0.0.1:58011', term: 2, intervalMs: 1000, rounds: 9, meta: [],
  nodes: [sample(1, { probe: 'unreachable', io: null, secondsBehind: null, behindTrx: null }), sample(2, { io: null, readOnly: false }), sample(3, { behindTrx: 12, secondsBehind: 3 })],
};

t.test('renderStatus', (t) => {
  const text = renderStatus(view, { is_leader: false, leader: '127.0.0.1:58011', leader_url: 'http://127.0.0.1:58010', term: 2 }, 'http://127.0.0.1:58000', new Date(0), live);
  t.match(text, /127\.0\.0\.1:58011\s+http:\/\/127\.0\.0\.1:58010\s+leader \*/, 'the leader is marked');
  t.match(text, /127\.0\.0\.1:58001\s+http:\/\/127\.0\.0\.1:58000\s+follower/);
  t.match(text, /term 2, applied 42/);
  const rows = text.split('\n').filter((l) => /127\.0\.0\.1:570/.test(l));
  t.match(rows[0]!, /1 shard_1\s+2\s+127\.0\.0\.1:57004\s+primary\s+alive\s+writable/, 'the primary first in its shard');
  t.match(rows[1]!, /57000\s+replica\s+dead\s+read_only\s+-\s+active\s+fenced/, 'a fenced node says so');
  t.match(rows[2]!, /57008\s+replica\s+alive\s+read_only\s+12 trx, 3s\s+active/, 'lag from the live probes');
  t.match(rows[0]!, /57004\s+primary\s+alive\s+writable\s+-\s+active/, 'no lag for the primary');
  t.match(rows[3]!, /2 shard_2.*57012\s+primary\s+dead.*failing_over/, 'a shard failing over says so');
  t.match(text, /COMPUTE NODES[\s\S]*comp1\s+127\.0\.0\.1:47000\s+active/);
  t.match(text, /5\s+manual_switch\s+ongoing\s+3\/5 promote/, 'a running job with its step');
  t.ok(text.indexOf('manual_switch') < text.indexOf('create_cluster'), 'newest job first');
  const none = renderStatus({ ...view, clusters: [], shards: [], nodes: [], comps: [], jobs: [] }, null, 'u');
  t.match(none, /\(no leader known\)/);
  t.match(none, /CLUSTERS\n {2}\(none\)/);
  t.equal(lagOf(node(9, 1, 1), 2, null), '-', 'no live probes, no lag');
  t.equal(lagOf(node(3, 1, 57008), 2, live), '12 trx, 3s');
  t.match(renderStatus(view, null, 'u', new Date(0)), /57008\s+replica\s+alive\s+read_only\s+-\s+active/, 'without live probes: "-"');
  t.end();
});

t.test('lagText and liveNode', (t) => {
  t.equal(lagText(undefined), '-');
  t.equal(lagText(sample(1, { io: 'connecting' })), 'io connecting', 'a replica that lost its source');
  t.equal(lagText(sample(1, { sqlRunning: false })), 'sql stopped');
  t.equal(lagText(sample(1, { probe: 'unreachable' })), '-', 'an unreachable node has no lag');
  t.equal(lagText(sample(1, { secondsBehind: null, behindTrx: 4 })), '4 trx');
  const probe = (executed: string, replication: boolean): ProbeResult => ({
    node: 'n', address: '127.0.0.1:1', status: 'ok', at: 5, connectMs: 0, totalMs: 2.4, error: null,
    state: {
      flavor: 'mariadb', serverId: 2, version: '10.11', readOnly: true, gtidStrictMode: true, logReplicaUpdates: true,
      gtid: { executed, received: null, history: executed },
      replication: replication ? { source: '127.0.0.1:2', sourceServerId: 1, io: 'running', sqlRunning: true, ioErrno: 0, ioError: '', sqlErrno: 0, sqlError: '', secondsBehind: 1, heartbeatPeriodSec: 1, heartbeats: 3, readPosition: 'b:4', received: executed, progressAgeMs: 10 } : null,
      semiSync: { masterEnabled: false, masterActive: false, masterClients: 0, masterWaitSessions: 0, slaveEnabled: true, slaveActive: true },
      threadsConnected: 3,
    },
  });
  const l = liveNode(1, 3, probe('0-1-90', true), '0-1-100');
  t.match(l, { node: 3, shard: 1, probe: 'ok', ms: 2, io: 'running', secondsBehind: 1, behindTrx: 10, readOnly: true }, 'ten transactions behind the primary');
  t.equal(liveNode(1, 3, probe('0-1-100', true), '0-1-100').behindTrx, 0, 'caught up');
  t.equal(liveNode(1, 1, probe('0-1-100', false), null).behindTrx, null, 'a primary has no lag');
  t.equal(liveNode(1, 3, probe('0-1-90', true), 'not a gtid').behindTrx, null, 'an unreadable position: unknown, not an error');
  t.end();
});
