// Types shared by the Raft core (I/O-free), its storage (WAL, snapshots) and its transport (TCP).
// The core owns the meaning of every field; storage and transport only persist and carry them.

/** A member of the manager group, e.g. "m1". Stable for the life of the member's data dir. */
export type MemberId = string;

export type EntryKind = 'normal' | 'conf' | 'noop';

/** One log entry. `data` is opaque to Raft: the event codec lives in src/events. */
export interface Entry {
  term: number;
  index: number;
  kind: EntryKind;
  data: Uint8Array;
}

/** What must be on disk before a vote or an append is acknowledged. */
export interface HardState {
  term: number;
  vote: MemberId | null;
  commit: number;
}

/** Voters and learners as of a log position. */
export interface ConfState {
  voters: MemberId[];
  learners: MemberId[];
}

export interface SnapshotMeta {
  index: number;
  term: number;
  conf: ConfState;
}

/** A state-machine snapshot: everything applied up to and including `meta.index`. */
export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

// ---- Messages between members. The transport carries them as they are (plain objects, msgpack-able).

interface MessageBase {
  from: MemberId;
  to: MemberId;
  /** Sender's term; for a pre-vote request and a granted pre-vote answer, the term it would campaign in. */
  term: number;
}

/** Leader → follower: entries after (index, logTerm), and the leader's commit index. */
export interface AppendMessage extends MessageBase {
  type: 'app';
  index: number;
  logTerm: number;
  entries: Entry[];
  commit: number;
}

/** Follower → leader. Accept: `index` is the follower's last matching index. Reject: `index` is the
 *  rejected prev index and (rejectHint, logTerm) is the follower's guess of where the logs may match. */
export interface AppendResponseMessage extends MessageBase {
  type: 'appResp';
  index: number;
  reject: boolean;
  rejectHint: number;
  logTerm: number;
}

/** Candidate → voter. (index, logTerm) is the candidate's last entry. `transfer` marks a campaign asked
 *  for by the old leader, which voters must not refuse on the grounds of a live leader. */
export interface VoteMessage extends MessageBase {
  type: 'vote' | 'preVote';
  index: number;
  logTerm: number;
  transfer: boolean;
}

export interface VoteResponseMessage extends MessageBase {
  type: 'voteResp' | 'preVoteResp';
  reject: boolean;
}

/** Leader → follower whose next entries are compacted away. */
export interface SnapshotMessage extends MessageBase {
  type: 'snap';
  snapshot: Snapshot;
}

/** `readSeq` is the latest ReadIndex round the leader started; the answer echoes it. */
export interface HeartbeatMessage extends MessageBase {
  type: 'heartbeat';
  commit: number;
  readSeq: number;
}

export interface HeartbeatResponseMessage extends MessageBase {
  type: 'heartbeatResp';
  readSeq: number;
}

/** Leader → transfer target: campaign now, the log is caught up. */
export interface TimeoutNowMessage extends MessageBase {
  type: 'timeoutNow';
}

/** Follower → leader: a ReadIndex request made on the follower. */
export interface ReadIndexMessage extends MessageBase {
  type: 'readIndex';
  ctx: string;
}

export interface ReadIndexResponseMessage extends MessageBase {
  type: 'readIndexResp';
  index: number;
  ctx: string;
}

export type Message =
  | AppendMessage
  | AppendResponseMessage
  | VoteMessage
  | VoteResponseMessage
  | SnapshotMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | TimeoutNowMessage
  | ReadIndexMessage
  | ReadIndexResponseMessage;

export type MessageType = Message['type'];

/** A ReadIndex answer: once the state machine has applied `index`, a read tagged `ctx` is linearizable. */
export interface ReadState {
  index: number;
  ctx: string;
}

/** A membership change, carried in a `conf` entry and applied when that entry is applied. */
export type ConfChange =
  | { type: 'addVoter'; member: MemberId }
  | { type: 'addLearner'; member: MemberId }
  | { type: 'removeMember'; member: MemberId };
