// Secrets at rest, at the leader's edge: every field the event catalog marks secret (create_cluster's
// compute password, an adopted cluster's) is sealed with the members' key just before the batch is
// proposed, so the Raft log, snapshots and followers hold only "enc:v1:…"; the actors store it as an
// opaque string and World.clusterSecret() opens it where it is used (compute install, comp_nodes rows).
import type { SecretBox } from '../config/secret-box.js';
import { isSealed } from '../config/secret-box.js';
import type { DomainEvent } from '../events/index.js';
import { mapSecretFields } from '../events/redact.js';
import type { Logger } from '../log/logger.js';

/** The original cluster_mgr's default compute password (create_cluster without computer_password). */
const DEFAULT_COMPUTE_PASSWORD = 'abc';

export function sealSecrets(events: readonly DomainEvent[], box: SecretBox | null, log: Logger): DomainEvent[] {
  return events.map((e) => {
    if (e.type === 'cluster.created' && e.data.compPassword === DEFAULT_COMPUTE_PASSWORD) {
      log.warn({ agg: e.agg }, 'create_cluster without computer_password: the compute nodes use the well-known default password');
    }
    if (box === null) return e;
    return mapSecretFields(e, (v) => (typeof v === 'string' && !isSealed(v) ? box.seal(v) : v)) as DomainEvent;
  });
}

/** How this member opens a sealed secret; without the key a sealed one cannot be used, and says so. */
export function secretOpener(box: SecretBox | null): (sealed: string) => string {
  if (box) return (v) => box.open(v);
  return (v) => {
    if (isSealed(v)) throw new Error('a password in the log is sealed but this member has no secrets_key_file (the same key as the other members)');
    return v;
  };
}
