// checkCommand: validates a command against the current world before it is proposed, and returns the
// events to propose (stamped with the leader's time and the cause) or a refusal with a clear reason.
// The events are also run against the world (and undone), so what passes here applies unless another
// proposal gets in first; apply re-checks everything, deterministically, on every member.
import type { World } from '../world.js';
import { checkAdopt, type AdoptCommand } from './adopt.js';
import { checkBackupStorage, type BackupStorageCommand } from './backup-storage.js';
import { Emitter, refuse, type CommandContext, type CommandResult } from './common.js';
import { checkHa, type HaCommand } from './ha.js';
import { checkJob, type JobCatalog, type JobCommand } from './jobs.js';
import { checkInstanceTask, type InstanceTaskCommand } from './instance-tasks.js';
import { checkManager, type ManagerCommand } from './manager.js';
import { checkTopology, type TopologyCommand } from './topology.js';

export type Command = TopologyCommand | HaCommand | JobCommand | InstanceTaskCommand | ManagerCommand | AdoptCommand | BackupStorageCommand;
export type CommandKind = Command['kind'];

/** The leader's context of a check, with the job types (src/jobs/types, passed in by the member and by
 *  tests through test/helpers/job-catalog.ts): job.start is refused without them. */
export type CheckContext = CommandContext & { jobs?: JobCatalog };

export function checkCommand(world: World, cmd: Command, ctx: CheckContext): CommandResult {
  const e = new Emitter(world, ctx);
  const r = dispatch(world, cmd, e, ctx.jobs);
  if (!r.ok) return r;
  const dry = world.check(r.events);
  if (!dry.ok) return refuse('refused', dry.pos >= 0 ? `event ${dry.pos} (${r.events[dry.pos]!.type}): ${dry.reason}` : dry.reason);
  return r;
}

function dispatch(world: World, cmd: Command, e: Emitter, jobs: JobCatalog | undefined): CommandResult {
  const kind = cmd.kind;
  switch (cmd.kind) {
    case 'machine.create':
    case 'machine.update':
    case 'machine.delete':
    case 'machine.set_health':
    case 'cluster.create':
    case 'cluster.set_status':
    case 'cluster.delete':
    case 'shard.add':
    case 'shard.set_status':
    case 'shard.delete':
    case 'node.add':
    case 'node.delete':
    case 'node.set_status':
    case 'node.move':
    case 'comp.add':
    case 'comp.delete':
    case 'comp.set_status':
    case 'comp.move':
      return checkTopology(world, cmd, e);
    case 'node.set_health':
    case 'node.set_access':
    case 'node.fence':
    case 'node.mark_needs_rebuild':
    case 'node.rejoin':
    case 'shard.set_primary':
    case 'failover.start':
    case 'failover.step':
    case 'failover.finish':
    case 'failover.abort':
    case 'shard.set_no_switch':
    case 'shard.clear_no_switch':
      return checkHa(world, cmd, e);
    case 'job.start':
    case 'job.step_start':
    case 'job.step_finish':
    case 'job.step_progress':
    case 'job.finish':
    case 'job.fail':
    case 'job.prune':
      return checkJob(world, cmd, e, jobs);
    case 'job.record_instance_task':
      return checkInstanceTask(world, cmd, e);
    case 'manager.add':
    case 'manager.remove':
    case 'manager.elect':
    case 'manager.reserve_ids':
    case 'manager.report_projection':
      return checkManager(world, cmd, e);
    case 'topology.adopt':
      return checkAdopt(world, cmd, e);
    case 'backup_storage.create':
    case 'backup_storage.update':
    case 'backup_storage.delete':
      return checkBackupStorage(world, cmd, e);
    default:
      return refuse('invalid_argument', `unknown command ${String(kind)}`, 'kind');
  }
}

export { IdAllocator, type CommandContext, type CommandResult, type Refusal, type RefusalCode } from './common.js';
export type { TopologyCommand, MachineSpec, NodeSpec, PortRange } from './topology.js';
export type { HaCommand } from './ha.js';
export type { JobCommand, JobCatalog, JobAcceptor, AcceptedJob } from './jobs.js';
export type { InstanceTaskCommand } from './instance-tasks.js';
export type { ManagerCommand } from './manager.js';
export type { BackupStorageCommand } from './backup-storage.js';
export type { AdoptCommand, AdoptedCluster, AdoptedShard, AdoptedNode, AdoptedComp } from './adopt.js';
