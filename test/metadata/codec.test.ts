// Pure parts of the metadata layer: value codecs, identifier checks, topology validation, redaction.
import t from 'tap';
import { formatPorts, formatTimestamp, parsePorts, parseTimestamp, canonicalDbValue, ENTITY_MAPS } from '../../src/metadata/codec.js';
import { TABLES } from '../../src/metadata/schema-spec.js';
import {
  IdentifierError,
  TopologyError,
  commitLogTable,
  ddlLogTable,
  emptyTopology,
  jobInfoText,
  newJob,
  normalizeTopology,
  partitionName,
  redactTopology,
  updateJob,
  validateTopology,
} from '../../src/metadata/index.js';
import { assertIdent } from '../../src/metadata/ident.js';
import { at, cluster, computeNode, job, machine, shard, storageNode, topologyA } from './fixtures.js';

t.test('timestamps: epoch ms <-> UTC text at the column precision', (t) => {
  const ms = Date.UTC(2023, 5, 1, 10, 0, 5) + 678;
  t.equal(formatTimestamp(ms, 6), '2023-06-01 10:00:05.678000');
  t.equal(formatTimestamp(ms, 0), '2023-06-01 10:00:05', 'seconds precision truncates, never rounds up');
  t.equal(parseTimestamp('2023-06-01 10:00:05.678999'), ms, 'microseconds beyond ms are dropped');
  t.equal(parseTimestamp('2023-06-01 10:00:05'), ms - 678);
  t.equal(parseTimestamp('0000-00-00 00:00:00'), null, 'a zero date is not a time');
  t.equal(parseTimestamp('yesterday'), null);
  const c6 = { kind: 'ts', nullable: false, precision: 6 } as const;
  t.equal(canonicalDbValue(c6, '2023-06-01 10:00:05.678901'), formatTimestamp(ms, 6), 'db text compares in the written form');
  t.end();
});

t.test("port lists: comma-terminated, 'NULL' for empty, garbage reported", (t) => {
  t.equal(formatPorts([57005, 57001]), '57001,57005,');
  t.equal(formatPorts([]), 'NULL', 'what the original writes for an empty list');
  t.same(parsePorts('57001,57005,'), { ports: [57001, 57005], bad: [], literalNull: false });
  t.same(parsePorts('NULL'), { ports: [], bad: [], literalNull: true });
  t.same(parsePorts(null).ports, []);
  t.same(parsePorts(''), { ports: [], bad: [], literalNull: false });
  t.same(parsePorts('abc,57009,99999,'), { ports: [57009], bad: ['abc', '99999'], literalNull: false });
  t.end();
});

t.test('identifiers are checked before they become SQL text', (t) => {
  t.equal(commitLogTable('cluster_1685613600_000001'), 'commit_log_cluster_1685613600_000001');
  t.equal(ddlLogTable('c1'), 'ddl_ops_log_c1');
  t.equal(partitionName(17), 'p17');
  for (const bad of ['x; DROP TABLE y', 'a`b', '', 'a'.repeat(53), '名字', 'a b']) {
    t.throws(() => commitLogTable(bad), IdentifierError, `cluster name ${JSON.stringify(bad)} refused`);
  }
  for (const bad of [0, -1, 1.5, 2 ** 32, Number.NaN]) t.throws(() => partitionName(bad), IdentifierError, `compute id ${bad} refused`);
  t.throws(() => assertIdent('kunlun_metadata_db`; --', 'database'), IdentifierError);
  t.throws(() => assertIdent('123', 'database'), IdentifierError, 'all digits is not an identifier');
  t.equal(assertIdent('Kunlun_Metadata_DB', 'database'), 'Kunlun_Metadata_DB');
  t.end();
});

t.test('the field mapping and the schema agree', (t) => {
  for (const m of ENTITY_MAPS) {
    const spec = TABLES.find((x) => x.name === m.table);
    t.ok(spec, `${m.table} is in the schema`);
    for (const f of m.fields) {
      const col = spec!.columns.find((c) => c.name === f.column);
      t.ok(col, `${m.table}.${f.column} exists`);
      if (f.codec.kind === 'enum') t.same(col!.enumValues, f.codec.values, `${m.table}.${f.column} enum order`);
    }
  }
  t.end();
});

t.test('a valid topology passes; every kind of problem is named', (t) => {
  t.doesNotThrow(() => validateTopology(topologyA()));
  t.doesNotThrow(() => validateTopology(emptyTopology()));
  const bad = topologyA();
  bad.storageNodes[0]!.port = 70000;
  bad.storageNodes[1]!.shardId = 99;
  bad.computeNodes[0]!.passwd = 'x'.repeat(17);
  bad.computeNodes[1]!.clusterId = 5;
  bad.shards.push(shard(3, 1, { name: 'SHARD_1' }));
  bad.machines.push(machine(1));
  bad.jobs[0]!.status = 'finished' as never;
  bad.clusters.push(cluster(2, { name: bad.clusters[0]!.name }));
  (bad.managers[0] as unknown as Record<string, unknown>).leader = true;
  let err: TopologyError | undefined;
  try {
    validateTopology(bad);
  } catch (e) {
    err = e as TopologyError;
  }
  t.type(err, TopologyError);
  const all = err!.problems.join('\n');
  t.match(all, /storageNodes\[0\]\.port must be in 0\.\.65535/);
  t.match(all, /computeNodes\[0\]\.passwd is longer than 16 characters/);
  t.match(all, /jobs\[0\]\.status must be one of not_started, ongoing, done, failed/);
  t.match(all, /managers\[0\]\.leader is not a field/);
  // Field problems come first; fix them and the reference and key problems show.
  bad.storageNodes[0]!.port = 57004;
  bad.computeNodes[0]!.passwd = 'abc';
  bad.jobs[0]!.status = 'done';
  delete (bad.managers[0] as unknown as Record<string, unknown>).leader;
  try {
    validateTopology(bad);
  } catch (e) {
    err = e as TopologyError;
  }
  const refs = err!.problems.join('\n');
  t.match(refs, /storageNodes\[1\]\.shardId 99 is not a shard/);
  t.match(refs, /computeNodes\[1\]\.clusterId 5 is not a cluster/);
  t.match(refs, /shards\[2\] has the same cluster and name as shards\[0\]/, 'names compare case-insensitively, like the unique key');
  t.match(refs, /machines\[2\]\.id 1 is the pseudo server row/);
  t.match(refs, /clusters\[1\] has the same name/);
  t.end();
});

t.test('storage node in the wrong cluster, two leaders, non-latin1 host are refused', (t) => {
  const x = topologyA();
  x.clusters.push(cluster(2));
  x.storageNodes.push(storageNode(7, 1, 2));
  x.managers[1]!.memberState = 'source';
  t.throws(() => validateTopology(x), /storageNodes\[6\]\.clusterId 2 is not the cluster of shard 1/);
  t.throws(() => validateTopology(x), /has 2 members in state source/);
  const y = topologyA();
  y.machines[0]!.rackId = 'rack-ü';
  t.doesNotThrow(() => validateTopology(y), 'latin1 is fine in server_nodes');
  y.machines[0]!.rackId = 'rack-✓';
  t.throws(() => validateTopology(y), /machines\[0\]\.rackId contains characters outside latin1/);
  t.end();
});

t.test('normalize sorts; redaction hides passwords and secret keys, keeps other text as is', (t) => {
  const a = topologyA();
  const shuffled = { ...a, storageNodes: [...a.storageNodes].reverse(), machines: [machine(3, { usedPorts: [3, 1, 2] }), machine(2)] };
  const n = normalizeTopology(shuffled);
  t.same(n.storageNodes.map((x) => x.id), [1, 2, 3, 4, 5, 6]);
  t.same(n.machines[1]!.usedPorts, [1, 2, 3]);
  const withSecrets = topologyA();
  withSecrets.jobs[0]!.memo = JSON.stringify({ computer_user: 'abc', computer_pwd: 'hunter2', error_info: 'OK' });
  const r = redactTopology(withSecrets);
  const text = JSON.stringify(r);
  t.notMatch(text, /pgx_pwd|hunter2/, 'no secret left');
  t.match(r.jobs[0]!.memo!, /"computer_user":"abc"/);
  t.equal(r.jobs[1]!.memo, withSecrets.jobs[1]!.memo, 'a memo without secrets is unchanged byte for byte');
  t.equal(r.clusters[0]!.memo, withSecrets.clusters[0]!.memo);
  t.end();
});

t.test('job rows: job_info is the request without secrets; when_ended follows memo updates', (t) => {
  const req = { version: '1.0', job_type: 'create_cluster', user_name: 'kunlun_test', paras: { computer_user: 'abc', computer_passwd: 's3cret', shards: '1' } };
  const j = newJob({ id: 7, jobType: 'create_cluster', request: req, userName: 'kunlun_test', startedAt: at(5) });
  t.equal(j.status, 'not_started');
  t.equal(j.relatedId, '0');
  t.notMatch(j.jobInfo!, /s3cret/);
  t.same((JSON.parse(j.jobInfo!) as { paras: { shards: string } }).paras.shards, '1', 'the rest of the request is kept');
  t.equal(jobInfoText({ a: 1 }), '{"a":1}', 'compact JSON');
  const done = updateJob(j, 'done', { error_code: '0', error_info: 'OK', computer_pwd: 'abc' }, at(9));
  t.equal(done.whenEnded, at(9));
  t.notMatch(done.memo!, /"computer_pwd":"abc"/);
  t.doesNotThrow(() => validateTopology({ ...emptyTopology(), jobs: [done, job(8)] }));
  t.end();
});

t.test('compute node names and storage endpoints must be unique the way the tables compare them', (t) => {
  const x = topologyA();
  x.computeNodes.push(computeNode(3, 1, { name: 'COMP1' }));
  x.storageNodes.push(storageNode(7, 2, 1, { port: 57004, hostaddr: '10.0.0.2' }));
  t.throws(() => validateTopology(x), /computeNodes\[2\] has the same cluster and name as computeNodes\[0\]/);
  t.throws(() => validateTopology(x), /storageNodes\[6\] has the same hostaddr, port and machineId as storageNodes\[0\]/);
  t.end();
});
