#!/usr/bin/env node
// Writes docs/api.md's job list from the job definitions (src/jobs/types), between the job-types
// markers. Run after `tsc -b` (npm run docs:jobs does both); test/http/docs.test.ts checks the result.
import { readFileSync, writeFileSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const { jobDocs, JOB_DOCS_START, JOB_DOCS_END } = await import(new URL('dist/src/jobs/job-docs.js', root).href);
const { JOB_DEFINITIONS } = await import(new URL('dist/src/jobs/types/index.js', root).href);
const file = new URL('docs/api.md', root);
const doc = readFileSync(file, 'utf8');
const a = doc.indexOf(JOB_DOCS_START);
const b = doc.indexOf(JOB_DOCS_END);
if (a < 0 || b < a) throw new Error(`docs/api.md: the markers ${JOB_DOCS_START} and ${JOB_DOCS_END} are missing`);
writeFileSync(file, `${doc.slice(0, a + JOB_DOCS_START.length)}\n${jobDocs(JOB_DEFINITIONS)}\n${doc.slice(b)}`);
console.log('docs/api.md: job list rewritten');
