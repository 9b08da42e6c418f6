// MariaDB GTID arithmetic: parsing, containment across domains and servers, union, backlog, and
// errant-transaction detection from binlog states.
import t from 'tap';
import {
  GtidParseError,
  comparePositions,
  errantTransactions,
  formatErrant,
  formatList,
  mariadbGtid as g,
  parseGtid,
  parsePosition,
  parseState,
  positionBacklog,
  positionContains,
  positionUnion,
} from '../../src/storage-node/gtid.js';
import { mariadbExecuted } from '../../src/storage-node/mariadb-flavor.js';

const P = parsePosition;

t.test('parse and format', (t) => {
  t.same(parseGtid('0-1-100'), { domain: 0, server: 1, seq: 100n });
  t.same(parseGtid(' 4294967295-4294967295-18446744073709551615 '), {
    domain: 4294967295,
    server: 4294967295,
    seq: 18446744073709551615n,
  }, 'full 32/32/64-bit range');
  t.equal(formatList(P('2-5-7,0-1-100, 1-3-9')), '0-1-100,1-3-9,2-5-7', 'sorted by domain, spaces tolerated');
  t.equal(formatList(P('')), '', 'empty position');
  t.equal(formatList(P('  ')), '');
  t.equal(formatList(P('0-1-1,\n1-1-2')), '0-1-1,1-1-2', 'newlines after commas tolerated');
  for (const bad of ['0-1', '0-1-x', 'a-b-c', '-1-1-1', '0-1-1-1', '4294967296-1-1', '0-4294967296-1', '0-1-18446744073709551616', '0-1-1,,1-1-1', '0:1:1']) {
    t.throws(() => P(bad), GtidParseError, `rejects "${bad}"`);
  }
  t.throws(() => P('0-1-5,0-2-6'), /domain 0 twice/, 'a position has one GTID per domain');
  t.same(parseState('0-2-6,0-1-5').map((x) => x.server), [1, 2], 'a state may hold several servers per domain');
  t.throws(() => parseState('0-1-5,0-1-6'), /0-1 twice/);
  t.doesNotThrow(() => g.validatePosition('0-1-5,1-1-6'));
  t.throws(() => g.validatePosition('nope'), GtidParseError);
  t.end();
});

t.test('containment', (t) => {
  t.ok(positionContains(P('0-1-10'), P('0-1-10')), 'equal');
  t.ok(positionContains(P('0-1-10'), P('0-1-9')), 'later seq same server');
  t.notOk(positionContains(P('0-1-9'), P('0-1-10')), 'earlier seq');
  t.ok(positionContains(P('0-2-11'), P('0-1-10')), 'later seq from a new primary contains the old stream');
  t.notOk(positionContains(P('0-2-10'), P('0-1-10')), 'same seq, different server: a fork');
  t.ok(positionContains(P('0-1-10,1-3-4'), P('0-1-10')), 'extra domain');
  t.notOk(positionContains(P('0-1-10'), P('0-1-10,1-3-4')), 'missing domain');
  t.ok(positionContains(P('0-1-1'), P('')), 'everything contains the empty position');
  t.notOk(positionContains(P(''), P('0-1-1')));
  t.ok(positionContains(P('0-1-18446744073709551615'), P('0-1-18446744073709551614')), 'no precision loss near 2^64');
  t.equal(comparePositions(P('0-1-5'), P('0-1-5')), 'equal');
  t.equal(comparePositions(P('0-1-6'), P('0-1-5')), 'a-contains-b');
  t.equal(comparePositions(P('0-1-5'), P('0-1-6')), 'b-contains-a');
  t.equal(comparePositions(P('0-1-6,1-1-1'), P('0-1-5,1-1-2')), 'diverged', 'ahead in one domain, behind in another');
  t.equal(comparePositions(P('0-1-6'), P('0-2-6')), 'diverged');
  t.ok(g.contains('0-1-10,1-2-3', '1-2-3'), 'string interface');
  t.end();
});

t.test('union and backlog', (t) => {
  t.equal(formatList(positionUnion(P('0-1-10,1-1-3'), P('0-1-12,2-4-1'))), '0-1-12,1-1-3,2-4-1');
  t.equal(formatList(positionUnion(P('0-1-10'), P('0-2-10'))), '0-1-10', 'equal seq: the first one is kept');
  t.equal(g.union('', '0-1-4'), '0-1-4');
  t.equal(positionBacklog(P('0-1-10'), P('0-1-15')), 5);
  t.equal(positionBacklog(P('0-1-15'), P('0-1-10')), 0, 'never negative');
  t.equal(positionBacklog(P('0-1-10,1-1-1'), P('0-1-12,1-1-4,2-1-3')), 2 + 3 + 3, 'summed over domains; an unseen domain counts its seq');
  t.equal(positionBacklog(P(''), P('0-1-18446744073709551615')), Number.MAX_SAFE_INTEGER, 'saturates');
  t.equal(g.backlog('0-1-1', '0-1-1'), 0);
  t.end();
});

t.test('executed position of a MariaDB node: binlog ∪ slave_pos', (t) => {
  t.equal(mariadbExecuted('0-1-100', '0-1-100'), '0-1-100', 'an ordinary replica');
  t.equal(mariadbExecuted('0-1-100', ''), '0-1-100', 'a primary that never replicated');
  t.equal(mariadbExecuted('0-1-100', '0-2-50'), '0-1-100', 'a former replica, then primary');
  t.equal(mariadbExecuted('', '0-2-50'), '0-2-50', 'log_slave_updates off');
  t.equal(mariadbExecuted('0-1-3,1-1-7', '0-1-3'), '0-1-3,1-1-7');
  t.end();
});

t.test('errant transactions from binlog states', (t) => {
  const S = parseState;
  t.same(errantTransactions(S('0-1-100'), S('0-1-100,0-2-120')), [], 'old primary fully replicated: none');
  t.same(errantTransactions(S(''), S('0-1-1')), [], 'empty history: none');
  const e = errantTransactions(S('0-1-100'), S('0-1-98,0-2-150'));
  t.same(e, [{ domain: 0, server: 1, afterSeq: 98n, lastSeq: 100n }], 'unreplicated tail, although 150 > 100');
  t.equal(formatErrant(e[0]!), '0-1-99..100');
  t.same(
    errantTransactions(S('0-1-100'), S('0-1-99,0-2-100')).map(formatErrant),
    ['0-1-100..100'],
    'same seq written by two servers',
  );
  t.same(errantTransactions(S('0-3-5,0-1-10'), S('0-1-10')).map(formatErrant), ['0-3-..5'], 'a server the reference never saw');
  t.same(errantTransactions(S('1-1-5'), S('0-1-10')).map(formatErrant), ['1-1-..5'], 'a domain the reference never saw');
  t.same(
    errantTransactions(S('0-1-100,0-3-50,1-1-7'), S('0-1-100,0-2-130,0-3-50,1-1-7')),
    [],
    'older primaries in the history are fine when the reference has them',
  );
  t.same(g.errant('0-1-10', '0-1-9,0-2-12'), ['0-1-10..10'], 'string interface');
  t.same(g.errant('0-1-9', '0-1-10'), [], 'behind is not errant');
  t.same(g.errant('0-1-10,0-2-12', '0-1-10,0-2-11', 2), [], "the reference's own newer writes are not errant");
  t.same(g.errant('0-1-11,0-2-12', '0-1-10,0-2-11', 2), ['0-1-11..11'], '...but other servers still are');
  t.end();
});
