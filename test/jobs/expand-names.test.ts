// The pure parts of expand_cluster: table_list names and their storage databases, the key match of the
// catch-up, the stage a job shows.
import t from 'tap';
import { keyMatch } from '../../src/storage-node/table-capture.js';
import { computeSchemaOf, parseTableName, storageDb } from '../../src/storage-node/table-shape.js';
import { moveStage } from '../../src/jobs/handlers/expand.js';
import type { JobView } from '../../src/actors/index.js';

t.test('db.schema.table names', (t) => {
  const r = parseTableName('postgres.public.orders');
  t.same(r, { db: 'postgres', schema: 'public', table: 'orders' });
  t.equal(storageDb(r), 'postgres_$$_public');
  t.same(computeSchemaOf('postgres_$$_public'), { db: 'postgres', schema: 'public' });
  t.equal(computeSchemaOf('mysql'), null, 'a database that is not db_$$_schema');
  for (const bad of ['a.b', 'a.b.c.d', 'a.b.c`', "a.b.c'; DROP TABLE x", 'a.b.' + 'x'.repeat(48), `${'d'.repeat(40)}.${'s'.repeat(30)}.t`]) {
    t.throws(() => parseTableName(bad), `${bad.slice(0, 30)} is refused`);
  }
  t.end();
});

t.test('the catch-up matches keys with parameters only', (t) => {
  const one = { db: 'd', table: 't', columns: ['id', 'v'], pk: ['id'], intPk: true };
  t.same(keyMatch(one, [['1'], ['2']]), { sql: '`id` IN (?, ?)', params: ['1', '2'] });
  const two = { ...one, pk: ['a', 'b'], intPk: false };
  t.same(keyMatch(two, [['1', 'x'], ['2', "y'"]]), { sql: '(`a`, `b`) IN ((?, ?), (?, ?))', params: ['1', 'x', '2', "y'"] });
  t.end();
});

t.test('the stage get_status shows', (t) => {
  const job = (status: string, steps: string[]) => ({ status, steps: steps.map((step) => ({ step, ok: true, info: '' })) }) as unknown as JobView;
  t.equal(moveStage(job('ongoing', [])), 'not_started');
  t.equal(moveStage(job('ongoing', ['prepare', 'dump_table'])), 'loaded');
  t.equal(moveStage(job('ongoing', ['prepare', 'dump_table', 'catchup_table', 'rename_table'])), 'renamed');
  t.equal(moveStage(job('done', [])), 'done');
  t.equal(moveStage(job('failed', ['prepare'])), 'failed');
  t.end();
});
