// Issue 11: the README's first command, exactly as written (`npm run playground`: set-up included,
// default ports, no flags), comes up to `playground ready`; a command it printed works when pasted;
// the printed `--down` stops it. Every port it uses (its own servers' and the instances') lies in
// its block, clear of the kernel's ephemeral range; ports held by other programs in that block — a
// listener, and an outgoing connection's local port, the case of the issue — are moved around.
//
// Isolation: default ports are fixed, and tap runs test files concurrently (other files start
// playgrounds and e2e environments on loopback), so the command runs in a network namespace of its
// own (`ip netns`; root, as in CI): its loopback, its ports, its ephemeral range, nothing shared with
// the other test files, which keep running in parallel (cheaper than running it serially before or
// after tap). Its directory comes from $CLUSTER_MGR_PLAYGROUND_DIR (the documented way to move it),
// so that a developer's own playground in <repository>/.playground is never touched.
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { makeRunDir } from '../../src/launcher/index.js';
import { chooseBase, layout } from '../../src/playground/ports.js';
import { PlaygroundRun } from './helpers.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** The commands of the README's quick start block, comments dropped. */
function quickStartCommands(readme: string): string[] {
  const block = /## Quick start[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  return block
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l !== '');
}

const ns = `cmgr-readme-${process.pid}`;
const inNs = (...argv: string[]) => ['ip', 'netns', 'exec', ns, ...argv];
function run(argv: string[], timeoutMs = 60_000): { code: number | null; out: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}
/** Sets the namespace's ephemeral range (written by a process inside it: /proc/sys/net is per namespace). */
function setEphemeral(lo: number, hi: number): void {
  must(inNs(process.execPath, '-e', "require('fs').writeFileSync('/proc/sys/net/ipv4/ip_local_port_range', process.argv[1])", `${lo} ${hi}`));
}
function must(argv: string[]): string {
  const r = run(argv);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}: ${r.out}`);
  return r.out;
}

const [first, second] = quickStartCommands(readFileSync(`${root}/README.md`, 'utf8')) as [string, string];

t.test("CI runs the README's second command as written, and it is the whole path", (t) => {
  t.equal(second, 'npm test', "the README's second command");
  const ci = readFileSync(`${root}/.ci/run`, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#') && !/^(set|cd) /.test(l));
  t.same(ci, [second], '.ci/run runs exactly that command');
  const scripts = (JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts;
  t.equal(scripts.pretest, 'bash deploy/setup.sh --with-browser', 'npm test first runs the set-up (with the browser)');
  t.equal(scripts.test, 'npm run lint && node scripts/run-tests.mjs', 'then lint, then the runner (which builds and runs every test file, this one included)');
  t.end();
});

t.test(`the README's first command in a network namespace of its own: ${first}`, { skip: process.getuid?.() !== 0 && 'needs root for ip netns (CI runs as root)' }, async (t) => {
  t.equal(first, 'npm run playground', "the README's first command");
  must(['ip', 'netns', 'add', ns]);
  t.teardown(() => void run(['ip', 'netns', 'del', ns]));
  must(inNs('ip', 'link', 'set', 'lo', 'up'));
  const range = must(inNs('cat', '/proc/sys/net/ipv4/ip_local_port_range')).trim();
  const [lo, hi] = range.split(/\s+/).map(Number) as [number, number];
  const eph = { lo, hi };
  const l = layout(chooseBase(null, eph).base);
  t.comment(`namespace ${ns}: ephemeral range ${lo}-${hi}, the playground's block from ${l.base}`);

  // Other programs hold ports of the block: a listener on NATS's port and on the first storage slot,
  // and an outgoing connection whose local port is in the second storage slot. The kernel gives that
  // connection its port (so it is bound as most programs' connections are, without SO_REUSEADDR): the
  // namespace's ephemeral range is narrowed to that one port while it connects, then put back.
  const outPort = l.storage.lo + 4;
  setEphemeral(outPort, outPort);
  const holderJs = `const net=require('net');const a=net.createServer(s=>s.on('error',()=>{})).listen(${l.nats},'127.0.0.1');const b=net.createServer(s=>s.on('error',()=>{})).listen(${l.storage.lo},'127.0.0.1',()=>{const c=net.connect(${l.storage.lo},'127.0.0.1',()=>console.log('held '+c.localPort));});`;
  const [ip, ...holderArgs] = inNs(process.execPath, '-e', holderJs);
  // Not under the playground's dir: the playground sweeps the node processes it finds there.
  const holder: ChildProcess = spawn(ip!, holderArgs, { cwd: tmpdir(), stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void holder.kill('SIGKILL'));
  const held = await new Promise<string>((resolve) => {
    holder.stdout!.once('data', (b: Buffer) => resolve(b.toString().trim()));
    holder.once('exit', (code) => resolve(`the holder exited with ${code}`));
  });
  setEphemeral(lo, hi);
  t.equal(held, `held ${outPort}`, `an outgoing connection holds 127.0.0.1:${outPort}`);

  const dir = makeRunDir('readme-playground');
  const pg = new PlaygroundRun(dir, [], { argv: inNs('bash', '-c', first), cwd: root, env: { ...process.env, CLUSTER_MGR_PLAYGROUND_DIR: dir } });
  t.teardown(() => pg.cleanup());
  const t0 = Date.now();
  pg.start();
  const s = await pg.ready(480_000);
  t.comment(`${first}: playground ready ${((Date.now() - t0) / 1000).toFixed(1)} s after the command (set-up included), ${s.startedInS} s by its own count`);

  t.equal(s.firstUrl, `http://127.0.0.1:${l.members[0]!.http}`, "member 1 on the block's first port");
  t.match(pg.out, new RegExp(`port ${l.nats} \\(NATS\\) is taken: pid \\d+ \\(node\\), listening on 127\\.0\\.0\\.1:${l.nats}; using ${l.spare.lo}`), '… with its holder, and moved to a spare port');
  t.match(pg.out, new RegExp(`storage port ${l.storage.lo}: pid \\d+ \\(node\\), listening`), 'the held first storage slot is named');
  t.match(pg.out, new RegExp(`storage port ${outPort}: pid \\d+ \\(node\\), a connection 127\\.0\\.0\\.1:${outPort} → 127\\.0\\.0\\.1:${l.storage.lo} \\(established\\)`), "the outgoing connection's port is named");

  // Every port the summary prints: inside the block, outside the ephemeral range, none of the held.
  const summary = pg.out.slice(pg.out.indexOf('cluster_mgr playground — started'));
  const ports = [...new Set([...summary.matchAll(/127\.0\.0\.1:(\d+)|-P (\d+)/g)].map((m) => Number(m[1] ?? m[2])))].sort((a, b) => a - b);
  t.ok(ports.length >= 3 + 3 + 1 + 1 + 6 + 1, `the summary names the ports: ${ports.join(' ')}`);
  t.same(ports.filter((p) => p < l.base || p > l.storage.hi || (p >= eph.lo && p <= eph.hi)), [], `every port is in ${l.base}-${l.storage.hi}, none in ${lo}-${hi}`);
  t.same(ports.filter((p) => [l.nats, l.storage.lo, outPort].includes(p)), [], 'no held port is used');
  t.ok(ports.some((p) => p > outPort && p <= l.storage.hi), 'storage nodes on ports after the held ones');

  // A printed command, pasted, in the namespace: get_status of the create_cluster job.
  const gs = run(inNs('bash', '-c', s.getStatusCmd));
  t.equal(gs.code, 0, `${s.getStatusCmd} exits 0`);
  t.match(JSON.parse(gs.out) as unknown, { job_type: 'create_cluster', status: 'done' }, 'the create_cluster job is done');

  // The printed --down: the command ends, with status 0, and nothing is left.
  const down = run(inNs('bash', '-c', s.downCmd), 150_000);
  t.equal(down.code, 0, `${s.downCmd} exits 0: ${down.out}`);
  t.match(down.out, /no process left/);
  const code = await pg.exitWithin(30_000);
  t.equal(code, 0, `${first} exits 0 after --down`);
  t.same(pg.leftovers(), [], 'no process works under the playground dir');
});
