// The Raft node driver: core + WAL + TCP transport + real timers, for a state machine of your own.
export { RaftNode, type RaftNodeOptions, type RaftNodeEvents, type LeaderChange, type Proposed, type NodeMetrics } from './raft-node.js';
export type { StateMachine } from './state-machine.js';
export { LeadershipLostError, NodeStoppedError, ReadIndexTimeoutError } from './errors.js';
export { NotLeaderError, ProposalDroppedError, ConfChangeRejectedError, TransferRejectedError } from '../core/errors.js';
