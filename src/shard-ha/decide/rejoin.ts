// What to do with a former primary that answers again. Pure. It may have committed transactions that
// never reached a replica (committed locally, never acknowledged); replicating on top of them would
// fork the shard, so those nodes need a rebuild (or a flashback) instead of a CHANGE MASTER.
import { mariadbGtid, type GtidMath } from '../../storage-node/gtid.js';
import type { ProbeResult } from '../../storage-node/node-state.js';

export type RejoinPlan =
  | { action: 'wait'; reason: string }
  | { action: 'fence-first'; reason: string }
  | { action: 'already-following'; reason: string }
  | { action: 'repoint'; startAfter: string; reason: string }
  | { action: 'needs-rebuild'; errant: string[]; reason: string };

export function rejoinPlan(oldPrimary: ProbeResult, newPrimary: ProbeResult, o: { gtid?: GtidMath } = {}): RejoinPlan {
  const gtid = o.gtid ?? mariadbGtid;
  const old = oldPrimary.state;
  const neu = newPrimary.state;
  if (oldPrimary.status !== 'ok' || !old) return { action: 'wait', reason: `${oldPrimary.node} is ${oldPrimary.status}` };
  if (newPrimary.status !== 'ok' || !neu) return { action: 'wait', reason: `new primary ${newPrimary.node} is ${newPrimary.status}` };
  if (!old.readOnly) return { action: 'fence-first', reason: `${oldPrimary.node} is writable` };
  const errant = gtid.errant(old.gtid.history, neu.gtid.history, neu.serverId);
  if (errant.length > 0) {
    return {
      action: 'needs-rebuild',
      errant,
      reason: `${oldPrimary.node} has transactions the new primary ${newPrimary.node} lacks: ${errant.join(', ')}`,
    };
  }
  const rep = old.replication;
  if (rep && rep.source === newPrimary.address && rep.io !== 'stopped' && rep.sqlRunning) {
    return { action: 'already-following', reason: `${oldPrimary.node} replicates from ${newPrimary.address}` };
  }
  return {
    action: 'repoint',
    startAfter: old.gtid.executed,
    reason: `${oldPrimary.node}'s history is contained in ${newPrimary.node}'s`,
  };
}
