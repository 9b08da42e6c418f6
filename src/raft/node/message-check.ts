// Shape checks for messages arriving from the network. Peers passed the transport handshake, but a
// message from a buggy or different-version peer must be dropped, not crash the core.

import type { Message } from '../types.js';

const TYPES = new Set<string>([
  'app', 'appResp', 'vote', 'preVote', 'voteResp', 'preVoteResp', 'snap',
  'heartbeat', 'heartbeatResp', 'timeoutNow', 'readIndex', 'readIndexResp',
]);

function isIndex(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isEntry(x: unknown): boolean {
  if (typeof x !== 'object' || x === null) return false;
  const e = x as Record<string, unknown>;
  return isIndex(e.term) && isIndex(e.index) && (e.kind === 'normal' || e.kind === 'conf' || e.kind === 'noop') && e.data instanceof Uint8Array;
}

function isConf(x: unknown): boolean {
  if (typeof x !== 'object' || x === null) return false;
  const c = x as Record<string, unknown>;
  const ids = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');
  return ids(c.voters) && ids(c.learners);
}

/** Why `x` is not a valid message from `from` to `self`, or null when it is one. */
export function checkMessage(x: unknown, from: string, self: string): string | null {
  if (typeof x !== 'object' || x === null) return 'not an object';
  const m = x as Record<string, unknown>;
  if (typeof m.type !== 'string' || !TYPES.has(m.type)) return `unknown message type ${String(m.type)}`;
  if (m.from !== from) return `claims to be from ${String(m.from)} on ${from}'s connection`;
  if (m.to !== self) return `addressed to ${String(m.to)}`;
  if (!isIndex(m.term)) return 'bad term';
  switch (m.type) {
    case 'app':
      if (!isIndex(m.index) || !isIndex(m.logTerm) || !isIndex(m.commit)) return 'bad append header';
      if (!Array.isArray(m.entries) || !m.entries.every(isEntry)) return 'bad entries';
      return null;
    case 'appResp':
      return isIndex(m.index) && typeof m.reject === 'boolean' && isIndex(m.rejectHint) && isIndex(m.logTerm) ? null : 'bad append response';
    case 'vote':
    case 'preVote':
      return isIndex(m.index) && isIndex(m.logTerm) && typeof m.transfer === 'boolean' ? null : 'bad vote request';
    case 'voteResp':
    case 'preVoteResp':
      return typeof m.reject === 'boolean' ? null : 'bad vote response';
    case 'snap': {
      const s = m.snapshot as Record<string, unknown> | undefined;
      const meta = s?.meta as Record<string, unknown> | undefined;
      if (!s || !meta || !isIndex(meta.index) || !isIndex(meta.term) || !isConf(meta.conf) || !(s.data instanceof Uint8Array)) {
        return 'bad snapshot';
      }
      return null;
    }
    case 'heartbeat':
      return isIndex(m.commit) && isIndex(m.readSeq) ? null : 'bad heartbeat';
    case 'heartbeatResp':
      return isIndex(m.readSeq) ? null : 'bad heartbeat response';
    case 'readIndex':
      return typeof m.ctx === 'string' ? null : 'bad read request';
    case 'readIndexResp':
      return isIndex(m.index) && typeof m.ctx === 'string' ? null : 'bad read response';
    default:
      return null;
  }
}

export function asMessage(x: unknown): Message {
  return x as Message;
}
