// Which rows a projection leaves out: the invalid ones, and the rows that would reference a row that
// is neither written nor already in the table. And the server's refusals, reported without values.
import t from 'tap';
import { excludeDependants, topologyProblems, type Exclusions } from '../../src/metadata/index.js';
import { rowErrorReason } from '../../src/metadata/write-topology.js';
import { exclude, failedRows } from '../../src/metadata/exclude.js';
import { ENTITY_KINDS, type EntityKind } from '../../src/metadata/topology.js';
import { cluster, computeNode, machine, shard, storageNode, topologyA } from './fixtures.js';

const none = (): boolean => false;
const rows = (x: Exclusions): string[] => failedRows(x, ENTITY_KINDS).map((f) => `${f.table}/${f.key}: ${f.reason}`);

t.test('a new cluster left out takes its new shards, nodes and compute nodes with it', (t) => {
  const a = topologyA();
  a.clusters.push(cluster(2));
  a.shards.push(shard(7, 2));
  a.storageNodes.push(storageNode(20, 7, 2, { port: 57100 }));
  a.computeNodes.push(computeNode(9, 2));
  const x: Exclusions = new Map();
  exclude(x, 'clusters', 2, 'name is longer than 120 characters');
  excludeDependants(a, x, none);
  t.strictSame(rows(x), [
    'db_clusters/2: name is longer than 120 characters',
    'shards/7: its db_clusters row 2 is not written',
    'shard_nodes/20: its db_clusters row 2 is not written',
    'comp_nodes/9: its db_clusters row 2 is not written',
  ]);
  t.end();
});

t.test('a parent whose old row stays in the table keeps its children written', (t) => {
  const a = topologyA();
  const x: Exclusions = new Map();
  exclude(x, 'shards', 1, 'syncNum must be in 0..65535');
  const present = (kind: EntityKind, id: number): boolean => kind === 'shards' && id === 1;
  excludeDependants(a, x, present);
  t.strictSame(rows(x), ['shards/1: syncNum must be in 0..65535'], 'the nodes of shard 1 are not excluded');
  // Absent from the table: the nodes of shard 1 go too, the other shard's stay.
  excludeDependants(a, x, none);
  t.strictSame(rows(x).filter((r) => r.startsWith('shard_nodes/')).length, a.storageNodes.filter((n) => n.shardId === 1).length);
  t.end();
});

t.test('a machine left out takes the nodes placed on it; the pseudo server row is never missing', (t) => {
  const a = topologyA();
  a.machines.push(machine(30));
  a.storageNodes.push(storageNode(21, 1, 1, { machineId: 30, port: 57200 }));
  a.computeNodes.push(computeNode(11, 1, { machineId: 1 }));
  const x: Exclusions = new Map();
  exclude(x, 'machines', 30, 'hostaddr is longer than 8192 characters');
  excludeDependants(a, x, none);
  t.strictSame(rows(x), ['server_nodes/30: hostaddr is longer than 8192 characters', 'shard_nodes/21: its server_nodes row 30 is not written']);
  t.end();
});

t.test('validation names the row and the field, never the value', (t) => {
  const a = topologyA();
  a.computeNodes[1]!.passwd = 'Secret-Pw-'.repeat(3);
  a.clusters.push(cluster(2, { name: a.clusters[0]!.name.toUpperCase() }));
  const problems = topologyProblems(a);
  t.strictSame(problems.map((p) => [p.row, p.phase]), [[{ kind: 'computeNodes', id: 2 }, 'field'], [{ kind: 'clusters', id: 2 }, 'ref']]);
  t.match(problems[1]!.reason, /has the same name as clusters\[0\] \(id 1\)/);
  t.notMatch(JSON.stringify(problems), /Secret-Pw/);
  const whole = topologyA();
  whole.clusters.push(cluster(1));
  t.strictSame(topologyProblems(whole).map((p) => [p.path, p.row]), [['clusters[1].id', undefined]], 'a repeated id belongs to no single row');
  t.end();
});

t.test("the server's refusals keep the code and column or key, not the quoted value", (t) => {
  const dup = { errno: 1062, code: 'ER_DUP_ENTRY', sqlState: '23000', message: "Duplicate entry '1-Very-Secret' for key 'name'" };
  t.equal(rowErrorReason(dup), 'refused by the server: ER_DUP_ENTRY on key name');
  const long = { errno: 1406, code: 'ER_DATA_TOO_LONG', sqlState: '22001', message: "Data too long for column 'passwd' at row 1" };
  t.equal(rowErrorReason(long), 'refused by the server: ER_DATA_TOO_LONG on column passwd');
  const str = { errno: 1366, code: 'ER_TRUNCATED_WRONG_VALUE_FOR_FIELD', sqlState: 'HY000', message: "Incorrect string value: '\\xF0\\x9F' for column `kunlun_metadata_db`.`comp_nodes`.`passwd` at row 1" };
  t.equal(rowErrorReason(str), 'refused by the server: ER_TRUNCATED_WRONG_VALUE_FOR_FIELD on column passwd');
  t.equal(rowErrorReason({ errno: 1213, code: 'ER_LOCK_DEADLOCK', sqlState: '40001', message: 'Deadlock found' }), null, 'not about a row: the whole pass fails');
  t.equal(rowErrorReason(new Error('connection lost')), null);
  t.end();
});
