// assessPrimary on plain probe results: healthy, busy, read-only, and the corroboration rule that
// separates a dead primary from one only the manager cannot reach.
import t from 'tap';
import { assessPrimary, replicaView } from '../../../src/shard-ha/decide/assess.js';
import { down, primary, replica, state } from './fixtures/probes.js';

const P = '10.0.0.1:3306';

t.test('a writable, reachable primary with following replicas is healthy', (t) => {
  const a = assessPrimary(primary(), [replica('r1'), replica('r2')]);
  t.equal(a.verdict, 'healthy');
  t.same(a.warnings, []);
  t.equal(a.evidence.contradictions, 2, 'both replicas hear it');
  t.equal(a.evidence.primary.readOnly, false);
  t.end();
});

t.test('healthy, with warnings about semi-sync and replicas', (t) => {
  const noClients = assessPrimary(primary('p', P, { semiSync: { ...state().semiSync, masterClients: 0 } }), [replica('r1')]);
  t.equal(noClients.verdict, 'healthy');
  t.match(noClients.warnings, [/no semi-sync replica connected/]);
  const off = assessPrimary(primary('p', P, { semiSync: { ...state().semiSync, masterEnabled: false } }), []);
  t.match(off.warnings, [/semi-sync master side is off/]);
  const fellBack = assessPrimary(primary('p', P, { semiSync: { ...state().semiSync, masterActive: false } }), []);
  t.match(fellBack.warnings, [/fell back to asynchronous/]);
  const waiting = assessPrimary(primary('p', P, { semiSync: { ...state().semiSync, masterWaitSessions: 3 } }), []);
  t.match(waiting.warnings, [/3 sessions wait/]);
  const broken = assessPrimary(primary(), [replica('r1', P, { io: 'stopped', ioErrno: 1236, ioError: 'binlog purged' })]);
  t.equal(broken.verdict, 'healthy');
  t.match(broken.warnings, [/replica r1: IO thread not running \(errno 1236/]);
  const twoPrimaries = assessPrimary(primary(), [replica('r1', P, {}, { readOnly: false })]);
  t.match(twoPrimaries.warnings, [/writable replicas: r1/], 'a second writable node is flagged');
  const elsewhere = assessPrimary(primary(), [replica('r1', '10.9.9.9:3306')]);
  t.match(elsewhere.warnings, [/replica r1 replicates from 10.9.9.9:3306/]);
  t.end();
});

t.test('alive but busy is not dead', (t) => {
  for (const [status, code, errno] of [
    ['alive-busy', 'ER_CON_COUNT_ERROR', 1040],
    ['alive-busy', 'ER_LOCK_WAIT_TIMEOUT', 1205],
    ['alive-error', 'ER_SOMETHING', 1999],
  ] as const) {
    const a = assessPrimary(down('p', P, status, code, errno), [
      replica('r1', P, { io: 'connecting' }),
      replica('r2', P, { io: 'connecting' }),
    ]);
    t.equal(a.verdict, 'busy', `${code} → busy even though replicas lost it`);
    t.match(a.summary, code);
  }
  t.end();
});

t.test('the manager rejected by the primary is misconfigured, not dead', (t) => {
  const a = assessPrimary(down('p', P, 'misconfigured', 'ER_ACCESS_DENIED_ERROR', 1045), [replica('r1', P, { io: 'connecting' })]);
  t.equal(a.verdict, 'misconfigured');
  t.end();
});

t.test('read-only primary: make writable only when nobody else claims the role', (t) => {
  const ro = assessPrimary(primary('p', P, { readOnly: true }), [replica('r1'), replica('r2')]);
  t.equal(ro.verdict, 'read-only-primary');
  t.equal(ro.safeToMakeWritable, true);
  const other = assessPrimary(primary('p', P, { readOnly: true }), [replica('r1'), replica('r2', P, {}, { readOnly: false })]);
  t.equal(other.verdict, 'read-only-primary');
  t.equal(other.safeToMakeWritable, false, 'a writable replica blocks it');
  t.match(other.summary, /writable: r2/);
  const moved = assessPrimary(primary('p', P, { readOnly: true }), [replica('r1', '10.7.7.7:3306'), replica('r2')]);
  t.equal(moved.safeToMakeWritable, false, 'a replica following another source blocks it');
  const unreachableReplica = assessPrimary(primary('p', P, { readOnly: true }), [down('r1', 'r1.test:3306'), replica('r2')]);
  t.equal(unreachableReplica.safeToMakeWritable, true, 'an unreachable replica gives no evidence either way');
  const follower = assessPrimary(primary('p', P, { replication: replica('x', '10.8.8.8:3306').state!.replication }), []);
  t.equal(follower.verdict, 'read-only-primary');
  t.equal(follower.safeToMakeWritable, false, 'the "primary" replicates from someone: never make it writable');
  t.end();
});

t.test('dead: unreachable and corroborated by the replicas', (t) => {
  const a = assessPrimary(down('p', P), [replica('r1', P, { io: 'connecting', ioErrno: 2003 }), replica('r2', P, { io: 'connecting' })]);
  t.equal(a.verdict, 'dead');
  t.equal(a.evidence.confirmations, 2);
  t.equal(a.evidence.required, 2);
  t.match(a.evidence.replicas[0]!.detail, /errno 2003/);
  const stale = assessPrimary(down('p', P, 'unreachable', 'DEADLINE'), [
    replica('r1', P, { progressAgeMs: 2_600 }),
    replica('r2', P, { io: 'connecting' }),
  ]);
  t.equal(stale.verdict, 'dead', 'a hung primary: heartbeat stale on one, disconnected on the other');
  t.equal(stale.evidence.replicas[0]!.view, 'stale');
  t.end();
});

t.test('unreachable but a replica still hears it: no failover', (t) => {
  const a = assessPrimary(down('p', P, 'unreachable', 'ETIMEDOUT'), [replica('r1', P, { progressAgeMs: 300 }), replica('r2', P, { io: 'connecting' })]);
  t.equal(a.verdict, 'unreachable-but-replicas-see-it');
  t.equal(a.evidence.contradictions, 1);
  t.equal(a.evidence.confirmations, 1);
  const unknownAge = assessPrimary(down('p', P), [replica('r1', P, { progressAgeMs: null })]);
  t.equal(unknownAge.verdict, 'unreachable-but-replicas-see-it', 'a running IO thread with unknown freshness counts as seeing it');
  t.end();
});

t.test('unreachable without enough corroboration: no failover', (t) => {
  const lonely = assessPrimary(down('p', P), [replica('r1', P, { io: 'connecting' }), down('r2', 'r2.test:3306')]);
  t.equal(lonely.verdict, 'unreachable-unconfirmed', '1 of 2 replicas is not a majority');
  t.equal(lonely.evidence.required, 2);
  const loose = assessPrimary(down('p', P), [replica('r1', P, { io: 'connecting' }), down('r2', 'r2.test:3306')], { minConfirmations: 1 });
  t.equal(loose.verdict, 'dead', 'a configured quorum of 1 accepts it');
  const none = assessPrimary(down('p', P), []);
  t.equal(none.verdict, 'unreachable-unconfirmed', 'no replicas: never dead');
  const stopped = assessPrimary(down('p', P), [replica('r1', P, { io: 'stopped' }), replica('r2', P, { io: 'stopped' })]);
  t.equal(stopped.verdict, 'unreachable-unconfirmed', 'stopped IO threads are no evidence');
  const others = assessPrimary(down('p', P), [replica('r1', '10.5.5.5:3306', { io: 'connecting' })]);
  t.equal(others.verdict, 'unreachable-unconfirmed', 'replicas of another source are no evidence');
  const early = assessPrimary(down('p', P), [replica('r1', P, { progressAgeMs: 1_200 })]);
  t.equal(early.verdict, 'unreachable-but-replicas-see-it', 'not stale before two heartbeat periods');
  t.end();
});

t.test('staleness threshold follows the heartbeat period and the options', (t) => {
  const slow = replica('r1', P, { heartbeatPeriodSec: 5, progressAgeMs: 6_000 });
  t.equal(replicaView(slow, P).view, 'connected', '6 s without progress is fine with a 5 s heartbeat');
  t.equal(replicaView(replica('r1', P, { heartbeatPeriodSec: 5, progressAgeMs: 10_001 }), P).view, 'stale');
  t.equal(replicaView(replica('r1', P, { progressAgeMs: 1_400 }), P).view, 'connected', 'floor 1500 ms');
  t.equal(replicaView(replica('r1', P, { progressAgeMs: 1_400 }), P, { minStaleMs: 1_000, staleHeartbeats: 1 }).view, 'stale');
  t.equal(replicaView(replica('r1', P, { heartbeatPeriodSec: 0, progressAgeMs: 60_000 }), P).view, 'connected', 'no heartbeat: never stale');
  t.equal(replicaView(down('r1'), P).view, 'unreachable');
  t.equal(replicaView(primary('r1', 'x:1'), P).view, 'not-following');
  t.end();
});

t.test('a hung primary: its agent says the process is stopped, replicas silent for quietMs confirm', (t) => {
  const hung = down('p', P, 'unreachable', 'DEADLINE');
  const silent = [replica('r1', P, { progressAgeMs: 600 }), replica('r2', P, { progressAgeMs: 700 })];
  // Without the agent's word, 0.6 s of silence is an idle primary between heartbeats: still heard.
  const plain = assessPrimary(hung, silent);
  t.equal(plain.verdict, 'unreachable-but-replicas-see-it', 'no agent: the replicas still count as hearing it');
  t.equal(plain.evidence.process, null);
  const a = assessPrimary(hung, silent, { process: 'stopped' });
  t.equal(a.verdict, 'dead', 'stopped + manager cannot reach + replicas silent: dead');
  t.equal(a.hung, true, 'marked hung: trackDead confirms it at once');
  t.same(a.evidence.replicas.map((r) => r.view), ['quiet', 'quiet']);
  t.equal(a.evidence.process, 'stopped');
  t.match(a.summary, /agent says the process is stopped/);
  t.equal(assessPrimary(hung, silent, { process: 'gone' }).verdict, 'dead', 'gone: the same');
  t.end();
});

t.test('the agent saying stopped does not override a replica that still hears the primary', (t) => {
  const hung = down('p', P, 'unreachable', 'DEADLINE');
  const fresh = assessPrimary(hung, [replica('r1', P, { progressAgeMs: 100 }), replica('r2', P, { progressAgeMs: 900 })], { process: 'stopped' });
  t.equal(fresh.verdict, 'unreachable-but-replicas-see-it', 'progress 100 ms ago: it sent something (resumed): no failover');
  t.equal(fresh.hung, undefined);
  const unknown = assessPrimary(hung, [replica('r1', P, { progressAgeMs: null }), replica('r2', P, { progressAgeMs: 900 })], { process: 'stopped' });
  t.equal(unknown.verdict, 'unreachable-but-replicas-see-it', 'unknown freshness (first probe) still contradicts');
  const one = assessPrimary(hung, [replica('r1', P, { progressAgeMs: 900 }), replica('r2', P, {}, {}), down('r3', '10.0.0.3:3306')], { process: 'stopped', quietMs: 800 });
  t.equal(one.evidence.replicas[0]!.view, 'quiet', 'quietMs is an option');
  t.end();
});

t.test('a running process (slow, or the manager cut off) keeps the plain heartbeat rules', (t) => {
  const hung = down('p', P, 'unreachable', 'DEADLINE');
  const silent = [replica('r1', P, { progressAgeMs: 1_500 }), replica('r2', P, { progressAgeMs: 1_500 })];
  const a = assessPrimary(hung, silent, { process: 'running' });
  t.equal(a.verdict, 'unreachable-but-replicas-see-it', 'running and heard 1.5 s ago: slow, not dead');
  const late = assessPrimary(hung, [replica('r1', P, { progressAgeMs: 2_500 }), replica('r2', P, { progressAgeMs: 2_500 })], { process: 'running' });
  t.equal(late.verdict, 'dead', 'two heartbeat periods of silence: dead, as without an agent');
  t.notOk(late.hung, 'but not hung: trackDead wants its usual samples');
  t.end();
});
