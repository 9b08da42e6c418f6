// Taking over a kunlun_metadata_db made by other tools: what readTopology found becomes one
// topology.adopt command (every machine, cluster, shard, node and compute node with its metadata id).
import type { AdoptCommand, AdoptedCluster, MachineSpec } from '../actors/index.js';
import type { Topology } from '../metadata/index.js';
import type { Json } from '../events/index.js';

const STATUS = (s: string): 'creating' | 'inactive' | 'active' | 'manual_stop' | null =>
  s === 'creating' || s === 'inactive' || s === 'active' || s === 'manual_stop' ? s : null;

/** null when the metadata holds nothing the world does not already have. */
export function adoptionCommand(t: Topology, known: { cluster(id: number): unknown; machine(host: string): { roles: Record<string, unknown> } | null }, term: number): AdoptCommand | null {
  const machines: MachineSpec[] = [];
  for (const m of t.machines) {
    if (m.machineType === null || m.hostaddr === 'pseudo_server_useless') continue;
    if (known.machine(m.hostaddr)?.roles[m.machineType] !== undefined) continue;
    const [lo, hi] = (m.portRange ?? '').split('-').map(Number);
    machines.push({
      hostaddr: m.hostaddr,
      role: m.machineType,
      rackId: m.rackId ?? '0',
      ...(m.datadir ? { datadir: m.datadir } : {}),
      ...(m.logdir ? { logdir: m.logdir } : {}),
      ...(m.walLogDir ? { walLogDir: m.walLogDir } : {}),
      ...(m.compDatadir ? { compDatadir: m.compDatadir } : {}),
      ...(lo && hi && lo <= hi ? { portRange: { lo, hi } } : {}),
      totalMemMB: m.totalMemMb,
      totalCpuCores: m.totalCpuCores,
      ...(m.nodemgrPort ? { agentPort: m.nodemgrPort } : {}),
    });
  }
  const clusters: AdoptedCluster[] = [];
  for (const c of t.clusters) {
    if (c.status === 'deleted' || known.cluster(c.id) !== null) continue;
    const memo = parseMemo(c.memo);
    const comps = t.computeNodes.filter((k) => k.clusterId === c.id && k.status !== 'deleted');
    clusters.push({
      id: c.id,
      name: c.name,
      nickName: c.nickName ?? '',
      haMode: c.haMode,
      owner: c.owner,
      business: c.business,
      ...(memo.withoutSecrets ? { memo: memo.withoutSecrets as Json } : {}),
      ...(memo.user ?? comps[0]?.userName ? { compUser: memo.user ?? comps[0]!.userName } : {}),
      ...(memo.password ?? comps[0]?.passwd ? { compPassword: memo.password ?? comps[0]!.passwd } : {}),
      shards: t.shards
        .filter((s) => s.clusterId === c.id && s.status !== 'deleted')
        .map((s) => ({
          id: s.id,
          name: s.name,
          syncNum: s.syncNum,
          nodes: t.storageNodes
            .filter((n) => n.shardId === s.id && n.status !== 'deleted')
            .map((n) => ({
              id: n.id,
              hostaddr: n.hostaddr,
              port: n.port,
              memberState: n.memberState,
              status: STATUS(n.status) ?? 'active',
              syncState: n.syncState,
              masterPriority: n.masterPriority,
            })),
        })),
      comps: comps.map((k) => ({ id: k.id, name: k.name, hostaddr: k.hostaddr, port: k.port, status: STATUS(k.status) ?? 'active' })),
    });
  }
  if (machines.length === 0 && clusters.length === 0) return null;
  return { kind: 'topology.adopt', machines, clusters, term };
}

/** The cluster memo (JSON text); the compute credentials it holds are taken out of it. */
function parseMemo(text: string | null): { withoutSecrets: Record<string, unknown> | undefined; user?: string; password?: string } {
  if (!text) return { withoutSecrets: undefined };
  try {
    const m = JSON.parse(text) as Record<string, unknown>;
    const { computer_user, computer_passwd, computer_pwd, ...rest } = m;
    const str = (x: unknown) => (typeof x === 'string' && x !== '' ? x : undefined);
    return { withoutSecrets: rest, user: str(computer_user), password: str(computer_passwd) ?? str(computer_pwd) };
  } catch {
    return { withoutSecrets: { raw_memo_unparsed: true } };
  }
}
