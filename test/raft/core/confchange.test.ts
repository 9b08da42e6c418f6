import t from 'tap';
import { applyConfChange, decodeConfChange, encodeConfChange, validateConfChange } from '../../../src/raft/core/index.js';

const conf = { voters: ['a', 'b', 'c'], learners: ['d'] };

t.test('round trip', (t) => {
  const cc = { type: 'addVoter', member: 'd' } as const;
  t.same(decodeConfChange(encodeConfChange(cc)), cc);
  t.throws(() => decodeConfChange(new TextEncoder().encode('{"type":"nuke","member":"a"}')));
  t.end();
});

t.test('validation', (t) => {
  t.equal(validateConfChange(conf, { type: 'addVoter', member: 'd' }), null, 'promote a learner');
  t.equal(validateConfChange(conf, { type: 'addLearner', member: 'c' }), null, 'demote a voter');
  t.match(validateConfChange(conf, { type: 'addVoter', member: 'a' }), /already a voter/);
  t.match(validateConfChange(conf, { type: 'removeMember', member: 'z' }), /not a member/);
  t.match(validateConfChange({ voters: ['a'], learners: [] }, { type: 'removeMember', member: 'a' }), /only voter/);
  t.end();
});

t.test('application', (t) => {
  t.same(applyConfChange(conf, { type: 'addVoter', member: 'd' }), { voters: ['a', 'b', 'c', 'd'], learners: [] });
  t.same(applyConfChange(conf, { type: 'removeMember', member: 'b' }), { voters: ['a', 'c'], learners: ['d'] });
  t.same(applyConfChange(conf, { type: 'removeMember', member: 'z' }), conf, 'an invalid change is a no-op everywhere');
  t.end();
});
