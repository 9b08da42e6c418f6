// A temporary directory for one run of servers. The "cmgr-" prefix is what the test runner looks for
// when it checks that no server outlived the suite.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function makeRunDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `cmgr-${label.replace(/[^A-Za-z0-9_-]/g, '_')}-`));
}
