// docs/api.md must describe every Emit job type with every paras field (the tables are rendered from
// src/jobs/types by src/jobs/job-docs.ts), and every REST route the OpenAPI document lists.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { JOB_DEFINITIONS } from '../../src/jobs/types/index.js';
import { jobDocs, JOB_DOCS_END, JOB_DOCS_START } from '../../src/jobs/job-docs.js';

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

t.test('the job list of docs/api.md is the one rendered from the definitions (npm run docs:jobs)', (t) => {
  const block = doc.slice(doc.indexOf(JOB_DOCS_START) + JOB_DOCS_START.length, doc.indexOf(JOB_DOCS_END)).trim();
  t.equal(block, jobDocs(JOB_DEFINITIONS), 'run `npm run docs:jobs` after changing a definition');
  for (const d of JOB_DEFINITIONS.all) if (d.kind === 'refused') t.match(block, `| \`${d.name}\` |`, `refused ${d.name} is listed with its reason`);
  t.end();
});

t.test('the REST routes are documented', (t) => {
  for (const r of ['/api/v1/machines', '/api/v1/clusters', '/api/v1/shards', '/api/v1/nodes', '/api/v1/comps', '/api/v1/jobs', '/api/v1/events', '/api/v1/openapi.json', '/api/v1/leader', '/api/v1/live', '/healthz', '/readyz']) {
    t.ok(doc.includes(r), r);
  }
  t.end();
});
