#!/usr/bin/env node
// Entry point of the `cluster-mgr` command; the code lives in dist/ after `npm run build`.
import { existsSync } from 'node:fs';
const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('cluster-mgr is not built yet: run `npm run setup` (or `npm run build`) in the repository first');
  process.exit(1);
}
await import(main.href);
