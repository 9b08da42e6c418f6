// Shard high-availability decisions, pure: no clocks, randomness or I/O; time is passed in.
export { assessPrimary, replicaView, type AssessOptions, type PrimaryAssessment, type Verdict, type ReplicaView, type ReplicaEvidence, type Evidence, type ProcessState } from './assess.js';
export { chooseCandidate, rankSurvivors, checkSwitchTarget, type Survivor, type ChooseOptions, type Choice, type RankedSurvivor, type SwitchTargetOptions, type SwitchTargetCheck } from './elect.js';
export { rejoinPlan, type RejoinPlan } from './rejoin.js';
export {
  trackDead,
  checkFailoverInterval,
  setNoSwitch,
  delNoSwitch,
  listNoSwitch,
  noSwitchFor,
  failoverGate,
  NoSwitchInputError,
  type DeadTrack,
  type DeadConfirmOptions,
  type Gate,
  type NoSwitchScope,
  type NoSwitchWindow,
  type FailoverGateInput,
} from './guards.js';
