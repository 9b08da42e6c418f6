// The parts every event shares: the aggregate it belongs to, who caused it, and the leader's stamp.
import { custom, Fail, int, obj, opt, str, type Infer, type Schema } from './schema.js';

export const AGG_KINDS = ['machine', 'cluster', 'shard', 'node', 'comp', 'job', 'manager', 'backup_storage'] as const;
export type AggKind = (typeof AGG_KINDS)[number];
/** Kinds whose ids the leader assigns from a counter (the others are named by the outside world). */
export const NUMBERED_KINDS = ['cluster', 'shard', 'node', 'comp', 'job'] as const;
export type NumberedKind = (typeof NUMBERED_KINDS)[number];

/** A positive id as the metadata tables use them (signed 32-bit INT columns). */
export const ID_MAX = 2_147_483_647;
export const idSchema = int({ min: 1, max: ID_MAX });
export const HOST_RE = /^[A-Za-z0-9][A-Za-z0-9.:_-]{0,254}$/;
export const hostSchema = str({ pattern: HOST_RE });
export const MEMBER_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
export const portSchema = int({ min: 1, max: 65535 });
/** A backup storage's name (backup_storage.name): the key of its aggregate. */
export const BACKUP_STORAGE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** The settings of an S3 backup storage, as its events and the jobs' paras accept them. */
export const S3_FIELD_RE = {
  endpoint: /^https?:\/\/[A-Za-z0-9.:[\]_-]+(\/[A-Za-z0-9._~/-]*)?$/,
  bucket: /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
  prefix: /^([A-Za-z0-9_.-]+\/)*[A-Za-z0-9_.-]*$/,
  region: /^[a-z0-9-]{1,64}$/,
  credentialsEnv: /^[A-Z_][A-Z0-9_]{0,63}$/,
} as const;

/** Who made this happen: a user (maybe through a job), or the manager itself and why. */
export type Cause = { user: string; job?: number } | { system: string; job?: number };
const userCause = obj({ user: str({ min: 1, max: 128 }), job: opt(idSchema) });
const systemCause = obj({ system: str({ min: 1, max: 128 }), job: opt(idSchema) });
export const causeSchema: Schema<Cause> = custom(
  (x) => {
    if (typeof x === 'object' && x !== null && 'user' in x) return userCause.test(x);
    if (typeof x === 'object' && x !== null && 'system' in x) return systemCause.test(x);
    return new Fail('expected {user, job?} or {system, job?}');
  },
  () => '{user, job?} | {system, job?}',
);
export type UserCause = Infer<typeof userCause>;

/** An aggregate id such as `cluster/3`, `machine/10.0.0.5`, `manager/m1` or `backup_storage/nfs1`. */
export type AggId = `${AggKind}/${string}`;

export interface AggRef {
  kind: AggKind;
  /** Numeric for numbered kinds, the host, member or storage name otherwise. */
  key: number | string;
}

/** The digits of s[from..] as a canonical positive decimal (no sign, no leading zero) up to ID_MAX, or -1. */
function parseId(s: string, from: number): number {
  const n = s.length - from;
  if (n <= 0 || n > 10) return -1;
  let v = 0;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9 || (i === from && c === 0)) return -1;
    v = v * 10 + c;
  }
  return v <= ID_MAX ? v : -1;
}

/**
 * The kind an aggregate id starts with, as the constant string (never a slice of the id): records,
 * stores and runners are then looked up by an internalized string, and nothing is hashed or copied.
 */
function kindOf(agg: string, slash: number): AggKind | null {
  let k: AggKind;
  switch (slash) {
    case 3:
      k = 'job';
      break;
    case 4:
      k = agg.charCodeAt(0) === 110 /* n */ ? 'node' : 'comp';
      break;
    case 5:
      k = 'shard';
      break;
    case 7:
      k = agg.charCodeAt(0) === 99 /* c */ ? 'cluster' : agg.charCodeAt(2) === 99 ? 'machine' : 'manager';
      break;
    case 14:
      k = 'backup_storage';
      break;
    default:
      return null;
  }
  return agg.startsWith(k) ? k : null;
}

/**
 * Parses an aggregate id; null when malformed. Numbered kinds must be canonical positive integers.
 * Hot path (every event of a replay): no regex, no substring and no cache keyed by the id for them.
 */
export function parseAgg(agg: string): AggRef | null {
  const slash = agg.indexOf('/');
  const kind = slash > 0 ? kindOf(agg, slash) : null;
  switch (kind) {
    case null:
      return null;
    case 'machine':
    case 'manager':
    case 'backup_storage': {
      const rest = agg.slice(slash + 1);
      return (kind === 'machine' ? HOST_RE : kind === 'manager' ? MEMBER_RE : BACKUP_STORAGE_NAME_RE).test(rest) ? { kind, key: rest } : null;
    }
    default: {
      const n = parseId(agg, slash + 1);
      return n > 0 ? { kind, key: n } : null;
    }
  }
}

export function aggId(kind: AggKind, key: number | string): AggId {
  return `${kind}/${key}`;
}

/** The common envelope; `data` is typed per event type in the catalog. */
export interface Envelope<T extends string, D> {
  /** Event type, `<aggregate kind>.<what happened>`, e.g. `shard.primary_changed`. */
  type: T;
  /** Schema version of `data`; decoding upcasts older versions to the current one. */
  v: number;
  /** The aggregate this event belongs to. */
  agg: AggId;
  /** Milliseconds since the epoch, stamped by the leader when it proposed the event. */
  at: number;
  cause: Cause;
  data: D;
}
