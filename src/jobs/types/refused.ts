// Job types of the original (cluster_mgr-api.md §2, §3.27, §10) that this cluster_mgr refuses, each
// with its reason: the Emit answer is "failed" 70001 naming the type and the reason, and no job is
// created. A type moves out of this list when its definition lands.
import type { RefusedDefinition } from '../definition.js';

const ISSUE_15 = 'backup and restore are not available in this version';
const ISSUE_16 = 'repartitioning a table across shards is not available in this version (expand_cluster moves whole tables)';
const DEAD = 'the original recognised this name but had no handler for it (it answered "Unrecongnized job type")';
const LATER = 'a cluster_mgr 1.1/1.2 type that this cluster_mgr does not implement';
const INTERNAL = 'an internal job of the original; here the work runs inside its parent job';

const refused = (name: string, reason: string, internal = false): RefusedDefinition => ({
  kind: 'refused',
  name,
  sync: false,
  internal,
  summary: `refused: ${reason}`,
  missingParas: 70001,
  paras: {},
  refused: reason,
});

export const REFUSED: readonly RefusedDefinition[] = [
  refused('table_repartition', ISSUE_16),
  refused('cluster_restore', ISSUE_15),
  refused('update_cluster_coldback_time_period', ISSUE_15),
  refused('logical_backup', ISSUE_15),
  refused('logical_restore', ISSUE_15),
  refused('restore_new_cluster', `${ISSUE_15}; the 0.9 name of cluster_restore`),
  refused('rename_cluster', DEAD),
  refused('backup_cluster', DEAD),
  refused('update_prometheus', DEAD),
  refused('postgres_exporter', DEAD),
  refused('mysqld_exporter', DEAD),
  refused('example_mission', 'a developer test of the original that installs hard-coded instances'),
  refused('cluster_debug', 'fault-injection keywords of debug builds; nothing here reads them'),
  refused('update_instance_cgroup', `${LATER} (CPU limits of instances)`),
  refused('create_rcr', `${LATER} (replication between metadata clusters)`),
  refused('delete_rcr', `${LATER} (replication between metadata clusters)`),
  refused('modify_rcr', `${LATER} (replication between metadata clusters)`),
  refused('manualsw_rcr', `${LATER} (replication between metadata clusters)`),
  refused('get_machine_summary', `${LATER} (XPanel has it commented out)`),
  refused('set_machine', `${LATER} (XPanel has it commented out)`),
  refused('get_meta', `${LATER} (XPanel has it commented out)`),
  refused('internal_add_shard', `${INTERNAL} (create_cluster's place_shards … activate_shards steps)`, true),
  refused('internal_del_shard', `${INTERNAL} (delete_cluster, delete_shard)`, true),
  refused('internal_del_comp', `${INTERNAL} (delete_cluster, delete_comp)`, true),
  refused('internal_rebuild_hosts', `${INTERNAL} (add_nodes seeds its new replicas with rb_shard_node children)`, true),
  refused('shard_install', `${INTERNAL} (the install steps of the storage jobs)`, true),
  refused('shard_uninstall', `${INTERNAL} (the uninstall steps of the storage jobs)`, true),
  refused('compute_install', `${INTERNAL} (add_comps' comps_install step)`, true),
  refused('compute_uninstall', `${INTERNAL} (delete_comp's uninstall step)`, true),
  refused('compute_coldbackup', `${INTERNAL}; ${ISSUE_15}`, true),
];
