// Reading an aggregate's statuses from its machine state value (the state is the single source of
// each status; contexts hold data, not statuses).
import type { StateValue } from 'xstate';
import type {
  Access,
  ClusterStatus,
  Health,
  InstanceStatus,
  JobStatus,
  MemberState,
  NodeStats,
  ShardStatus,
} from '../events/vocab.js';

export interface NodeStates {
  lifecycle: InstanceStatus;
  role: MemberState;
  access: Access;
  health: Health | 'unknown';
  repair: 'ok' | 'fenced' | 'needs_rebuild';
}

export interface ShardStates {
  lifecycle: ShardStatus;
  ha: 'normal' | 'failing_over';
  noSwitch: 'off' | 'on';
}

type Tree = { [k: string]: StateValue };

/** The regions of a present storage node (null when absent or removed). */
export function nodeStates(v: StateValue): NodeStates | null {
  return typeof v === 'object' && 'present' in v ? ((v as Tree).present as unknown as NodeStates) : null;
}

export function shardStates(v: StateValue): ShardStates | null {
  return typeof v === 'object' && 'present' in v ? ((v as Tree).present as unknown as ShardStates) : null;
}

export function clusterStatus(v: StateValue): ClusterStatus | 'deleted' | 'absent' {
  return v as ClusterStatus | 'deleted' | 'absent';
}

export function compStatus(v: StateValue): InstanceStatus | 'removed' | 'absent' {
  return typeof v === 'object' && 'present' in v ? ((v as Tree).present as InstanceStatus) : (v as 'removed' | 'absent');
}

export function jobStatus(v: StateValue): JobStatus {
  if (typeof v === 'object') return 'ongoing';
  return v === 'absent' ? 'not_started' : (v as JobStatus);
}

export function jobActive(v: StateValue): boolean {
  return v !== 'done' && v !== 'failed' && v !== 'absent';
}

export function machineStats(v: StateValue): NodeStats | 'unknown' | null {
  return typeof v === 'object' && 'registered' in v ? ((v as Tree).registered as NodeStats | 'unknown') : null;
}
