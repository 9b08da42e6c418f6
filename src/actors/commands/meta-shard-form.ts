// XPanel's metadata-cluster page sends add_nodes, delete_node, manual_switch and rebuild_node with cluster_id and
// shard_id "-1" for the metadata shard (clients-and-agent.md §2.1). The metadata shard is not an actor
// of the world yet (its nodes are probed, its rows kept as found; it has no failover of its own yet), so these forms
// are refused with that reason instead of a confusing "must be digits".
import { refuse, type Refusal } from './common.js';
import type { Paras } from './paras.js';

const META_FORMS = new Set(['add_nodes', 'delete_node', 'manual_switch', 'rebuild_node']);

const isMeta = (v: unknown): boolean => v === '-1' || v === -1;

/** The refusal of a metadata-shard form, or null for any other request. */
export function metaShardFormRefusal(jobType: string, p: Paras): Refusal | null {
  if (!META_FORMS.has(jobType)) return null;
  const field = isMeta(p.cluster_id) ? 'cluster_id' : isMeta(p.shard_id) ? 'shard_id' : null;
  if (field === null) return null;
  return refuse(
    'invalid_argument',
    `"-1" names the metadata shard: ${jobType} on the metadata shard's nodes is not supported by this cluster_mgr yet ` +
      '(its nodes are not managed here; add or remove them, or switch its primary, with the tools that built it)',
    `paras.${field}`,
    70001,
  );
}
