// README's Layout table leads to the code: every folder of src is named there, and every src path it
// names exists (a folder renamed or added without its row fails here).
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const readme = readFileSync(`${root}README.md`, 'utf8');
const layout = readme.slice(readme.indexOf('\n## Layout'), readme.indexOf('\n## ', readme.indexOf('\n## Layout') + 1));

t.test('every folder of src has a row in README Layout', (t) => {
  t.ok(layout.length > 100, 'README has a Layout section');
  const folders = readdirSync(`${root}src`, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  for (const f of folders) t.match(layout, new RegExp(`\`src/${f}[/\`]`), `src/${f} is named`);
  t.end();
});

t.test('every src path README Layout names exists', (t) => {
  for (const m of layout.matchAll(/`(src\/[^`]+)`/g)) t.ok(existsSync(`${root}${m[1]}`), `${m[1]} exists`);
  t.end();
});
