// docs/api.md must describe every Emit job type with every paras field (the tables are generated from
// src/jobs/types), and every REST route the OpenAPI document lists.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { JOB_DEFINITIONS } from '../../src/jobs/types/index.js';

const JOB_TYPES = JOB_DEFINITIONS.served();

const doc = readFileSync(new URL('../../../docs/api.md', import.meta.url), 'utf8');

t.test('every job type and paras field is documented', (t) => {
  for (const [type, def] of Object.entries(JOB_TYPES)) {
    const start = doc.indexOf(`#### \`${type}\` (${def.sync ? 'sync' : 'async'})`);
    t.not(start, -1, `${type} has a section saying it is ${def.sync ? 'sync' : 'async'}`);
    const end = doc.indexOf('\n####', start + 1);
    const section = doc.slice(start, end === -1 ? undefined : end);
    for (const field of Object.keys(def.paras)) t.match(section, `| \`${field}\` |`, `${type}.${field}`);
  }
  t.end();
});

t.test('the REST routes are documented', (t) => {
  for (const r of ['/api/v1/machines', '/api/v1/clusters', '/api/v1/shards', '/api/v1/nodes', '/api/v1/comps', '/api/v1/jobs', '/api/v1/events', '/api/v1/openapi.json', '/api/v1/leader', '/api/v1/live', '/healthz', '/readyz']) {
    t.ok(doc.includes(r), r);
  }
  t.end();
});
