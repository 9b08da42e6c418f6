// manual_switch: the planned switchover of a shard primary. The step sequence is in
// src/jobs/handlers/switch.ts over the shard-HA step engine (src/shard-ha/step-engine.ts, shared with
// automatic failover); this is its one definition.
import { refuse } from '../../actors/commands/common.js';
import type { JobTypeDefinition } from '../definition.js';
import { MANUAL_SWITCH_STEPS, manualSwitch, rollback } from '../handlers/switch.js';
import { clusterRef } from './paras.js';
import { clusterById, clusterLock, fail, nodeAt, shardIn } from './world-checks.js';

/** The steps in the order they run (get_status answers them as job_step). */
const STEPS = MANUAL_SWITCH_STEPS;

export const manualSwitchJob: JobTypeDefinition = {
  kind: 'job',
  name: 'manual_switch',
  role: 'operator',
  sync: false,
  internal: false,
  summary: 'planned switchover of a shard primary',
  missingParas: 70005,
  paras: {
    cluster_id: clusterRef(70025, 'cluster id'),
    shard_id: clusterRef(70024, 'shard id'),
    master_hostaddr: { kind: 'ipPort', required: true, missing: 70026, help: 'current primary, "host_port"' },
    assign_hostaddr: { kind: 'ipPort', help: 'target replica, "host_port"; the most advanced healthy replica when absent' },
  },
  accept(world, p, e) {
    // The original's manual_switch numbers: 70024-70026 for missing paras, 70030-70034 for the hosts.
    const cluster = clusterById(world, p, 'cluster_id', 70025);
    const shard = shardIn(world, p, cluster, 'shard_id', 70024);
    const s = world.shard(shard)!;
    const master = p.hostPort('master_hostaddr', 70026);
    const from = nodeAt(world, shard, master.host, master.port, 'paras.master_hostaddr', 70030);
    if (s.primary !== from) fail(refuse('invalid_state', `${master.host}_${master.port} is not the primary (source)`, 'paras.master_hostaddr', 70033));
    let to: number | null = null;
    if (p.has('assign_hostaddr')) {
      const a = p.hostPort('assign_hostaddr', 70032);
      to = nodeAt(world, shard, a.host, a.port, 'paras.assign_hostaddr', 70032);
      const n = world.node(to)!;
      if (n.memberState !== 'replica') fail(refuse('invalid_state', `${a.host}_${a.port} is not a replica`, 'paras.assign_hostaddr', 70034));
      if (n.health !== 'alive') fail(refuse('invalid_state', `${a.host}_${a.port} is ${n.health}`, 'paras.assign_hostaddr', 70019));
      if (n.repair !== 'ok') fail(refuse('invalid_state', `${a.host}_${a.port} is ${n.repair}`, 'paras.assign_hostaddr'));
    }
    if (s.task !== null) fail(refuse('busy', `shard ${shard} is in failover task ${s.task.task}`, 'paras.shard_id'));
    if (s.noSwitch !== null && s.noSwitch.until > e.ctx.at) {
      fail(refuse('no_switch', `shard ${shard} is in a no-switch window until ${s.noSwitch.until}`, 'paras.shard_id', 70014));
    }
    return { request: { cluster_id: cluster, shard_id: shard, from, to }, cluster, lock: clusterLock(cluster) };
  },
  steps: STEPS,
  run: manualSwitch,
  rollback,
  attachment: {
    description: 'job_step lists the step names in order (XPanel draws them); step (a common key) is the current one',
    keys: { job_step: { type: 'string', description: 'comma list of the step names' } },
    build: () => ({ job_step: STEPS.join(',') }),
  },
  writes: ['shard_nodes', 'node_map_master', 'rbr_consfailover'],
};
