// NATS subjects for consumers of cluster_mgr's events and status. Documented in docs/nats.md.
//   <prefix>.events.<aggregate kind>.<aggregate id>.<event>   every committed event (JetStream)
//   <prefix>.status.<kind>.<id>                               current health (core NATS, latest wins)
// Ids may contain characters a subject token cannot ("." in a host address): they become "_".

export const DEFAULT_PREFIX = 'kunlun';

export function subjectToken(s: string): string {
  const t = s.replace(/[.*>\s]/g, '_');
  return t === '' ? '_' : t;
}

/** e.g. ("shard/7", "shard.primary_changed") → kunlun.events.shard.7.primary_changed */
export function eventSubject(prefix: string, agg: string, type: string): string {
  const slash = agg.indexOf('/');
  const kind = agg.slice(0, slash);
  const key = agg.slice(slash + 1);
  const dot = type.indexOf('.');
  const what = dot >= 0 && type.slice(0, dot) === kind ? type.slice(dot + 1) : type;
  return `${prefix}.events.${subjectToken(kind)}.${subjectToken(key)}.${subjectToken(what)}`;
}

export function statusSubject(prefix: string, kind: string, key: string | number): string {
  return `${prefix}.status.${subjectToken(kind)}.${subjectToken(String(key))}`;
}

/** Message headers every mirrored event carries. */
export const H = {
  /** Raft log index of the entry that carried the event. */
  index: 'Kunlun-Index',
  /** Position of the event inside its entry (0-based). */
  pos: 'Kunlun-Pos',
  /** Raft term of that entry. */
  term: 'Kunlun-Term',
  /** Position of the event in the hash chain (1-based, over all events). */
  seq: 'Kunlun-Seq',
  /** Hash-chain value after this event (hex). */
  hash: 'Kunlun-Hash',
  type: 'Kunlun-Type',
  agg: 'Kunlun-Agg',
  at: 'Kunlun-At',
} as const;
