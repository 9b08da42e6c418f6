import t from 'tap';
import { supersededAppends } from '../../../src/raft/node/coalesce.js';
import { checkMessage } from '../../../src/raft/node/message-check.js';
import type { Entry, Message } from '../../../src/raft/types.js';

const e = (index: number): Entry => ({ index, term: 2, kind: 'normal', data: new Uint8Array([1]) });
const app = (to: string, commit: number, entries: Entry[] = [], term = 2): Message => ({
  type: 'app', from: 'a', to, term, index: 5, logTerm: 2, entries, commit,
});

void t.test('an empty append followed by another append to the same member is dropped', (t) => {
  const msgs = [app('b', 3), app('c', 3), app('b', 4, [e(6)]), app('b', 4)];
  t.same([...(supersededAppends(msgs) ?? [])].sort(), [0], 'only the first commit update to b');
  t.end();
});

void t.test('appends with entries, other members, lower commits or other terms are kept', (t) => {
  t.equal(supersededAppends([app('b', 3, [e(6)]), app('b', 3, [e(7)])]), null, 'entries are never dropped');
  t.equal(supersededAppends([app('b', 5), app('b', 4)]), null, 'a later lower commit does not cover');
  t.equal(supersededAppends([app('b', 3, [], 2), app('b', 3, [], 3)]), null, 'another term does not cover');
  t.equal(supersededAppends([app('b', 3), app('c', 3)]), null);
  const hb: Message = { type: 'heartbeat', from: 'a', to: 'b', term: 2, commit: 3, readSeq: 0 };
  t.equal(supersededAppends([hb, hb]), null, 'only appends are considered');
  t.end();
});

void t.test('message shape checks drop what the core must not see', (t) => {
  const good = app('me', 1, [e(6)]);
  t.equal(checkMessage(good, 'a', 'me'), null);
  t.match(checkMessage(good, 'x', 'me'), /claims to be from a/);
  t.match(checkMessage(good, 'a', 'other'), /addressed to me/);
  t.match(checkMessage({ ...good, type: 'bogus' }, 'a', 'me'), /unknown message type/);
  t.match(checkMessage({ ...good, term: -1 }, 'a', 'me'), /bad term/);
  t.match(checkMessage({ ...good, entries: [{ index: 1, term: 1, kind: 'normal', data: 'x' }] }, 'a', 'me'), /bad entries/);
  t.match(checkMessage({ type: 'snap', from: 'a', to: 'me', term: 1, snapshot: { meta: { index: 1, term: 1 } } }, 'a', 'me'), /bad snapshot/);
  t.match(checkMessage(null, 'a', 'me'), /not an object/);
  t.equal(checkMessage({ type: 'voteResp', from: 'a', to: 'me', term: 3, reject: false }, 'a', 'me'), null);
  t.end();
});
