// Membership changes: encoding in `conf` entries, validation when proposed, application when applied.
import type { ConfChange, ConfState } from '../types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify({ type: cc.type, member: cc.member }));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const v: unknown = JSON.parse(decoder.decode(data));
  if (typeof v === 'object' && v !== null && 'type' in v && 'member' in v) {
    const { type, member } = v;
    if (typeof member === 'string' && (type === 'addVoter' || type === 'addLearner' || type === 'removeMember')) {
      return { type, member };
    }
  }
  throw new Error('malformed configuration change entry');
}

/** Why `cc` cannot be applied to `conf`, or null when it can. One voter at most changes. */
export function validateConfChange(conf: ConfState, cc: ConfChange): string | null {
  const isVoter = conf.voters.includes(cc.member);
  const isLearner = conf.learners.includes(cc.member);
  switch (cc.type) {
    case 'addVoter':
      return isVoter ? `${cc.member} is already a voter` : null;
    case 'addLearner':
      if (isLearner) return `${cc.member} is already a learner`;
      if (isVoter && conf.voters.length === 1) return `${cc.member} is the only voter`;
      return null;
    case 'removeMember':
      if (!isVoter && !isLearner) return `${cc.member} is not a member`;
      if (isVoter && conf.voters.length === 1) return `${cc.member} is the only voter`;
      return null;
  }
}

/** The membership after `cc`. An invalid change leaves it as it was (every member decides the same). */
export function applyConfChange(conf: ConfState, cc: ConfChange): ConfState {
  if (validateConfChange(conf, cc) !== null) return conf;
  const voters = conf.voters.filter((m) => m !== cc.member);
  const learners = conf.learners.filter((m) => m !== cc.member);
  if (cc.type === 'addVoter') voters.push(cc.member);
  if (cc.type === 'addLearner') learners.push(cc.member);
  return { voters: voters.sort(), learners: learners.sort() };
}
