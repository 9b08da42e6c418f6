// chunkIndexOf: the chunk a replayed key marks for the check after a move's rename. Chunks are
// chunksOf ranges, open at both ends, so every key has one; a key beyond the old max falls in the last.
import t from 'tap';
import { chunkIndexOf, type Chunk } from '../../src/storage-node/table-copy.js';
import type { TableShape } from '../../src/storage-node/table-shape.js';

const shape = (intPk: boolean): TableShape => ({ db: 'postgres_$$_public', table: 't', columns: ['id', 'v'], pk: ['id'], intPk });
const chunks: Chunk[] = [
  { lo: null, hi: '100' },
  { lo: '101', hi: '200' },
  { lo: '201', hi: null },
];

t.test('an integer key marks the range that holds it', (t) => {
  const s = shape(true);
  t.equal(chunkIndexOf(s, chunks, ['-5']), 0, 'below the old min: the first chunk');
  t.equal(chunkIndexOf(s, chunks, ['100']), 0, 'a range holds its upper bound');
  t.equal(chunkIndexOf(s, chunks, ['101']), 1);
  t.equal(chunkIndexOf(s, chunks, ['200']), 1);
  t.equal(chunkIndexOf(s, chunks, ['9223372036854775807']), 2, 'beyond the old max, exact for BIGINT: the last chunk');
  t.end();
});

t.test('other keys: the one chunk of the whole table', (t) => {
  t.equal(chunkIndexOf(shape(false), [{ lo: null, hi: null }], ['abc']), 0);
  t.end();
});
