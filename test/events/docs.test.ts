// docs/events.md must list every event type with its current version and every data field, so the
// catalog and its documentation cannot drift apart.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { catalog, EVENT_TYPES } from '../../src/events/catalog.js';

const doc = readFileSync(new URL('../../../docs/events.md', import.meta.url), 'utf8');

t.test('every event type, version and field is documented', (t) => {
  for (const type of EVENT_TYPES) {
    const def = catalog[type];
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${type}\` |`));
    if (row === undefined) {
      t.fail(`${type} is missing from docs/events.md`);
      continue;
    }
    t.match(row, new RegExp(`^\\| \`${type.replace('.', '\\.')}\` \\| ${def.v} \\|`), `${type} v${def.v}`);
    const shape = (def.data as { shape?: Record<string, unknown> }).shape ?? {};
    for (const field of Object.keys(shape)) t.match(row, new RegExp(`\`${field}\\??\``), `${type}.${field}`);
  }
  const rows = doc.split('\n').filter((l) => /^\| `[a-z_]+\.[a-z_]+` \| \d+ \|/.test(l));
  t.equal(rows.length, EVENT_TYPES.length, 'no stale rows');
  t.end();
});
