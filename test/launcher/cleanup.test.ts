// Nothing a launcher started outlives its owner: not on SIGTERM, not on SIGINT, not even on kill -9.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeRunDir } from '../../src/launcher/index.js';
import { setTimeout as sleep } from 'node:timers/promises';

const owner = fileURLToPath(new URL('./fixtures/owner.js', import.meta.url));

/** Running means present and not a zombie waiting to be reaped. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function startOwner(dir: string): Promise<{ pid: number; servers: number[] }> {
  const child = spawn(process.execPath, [owner, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const servers = await new Promise<number[]>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { pids: number[] }).pids);
    });
    child.once('exit', (code) => reject(new Error(`owner exited with ${code} before starting its servers`)));
  });
  return { pid: child.pid!, servers };
}

async function gone(pids: number[], ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pids.every((p) => !running(p))) return true;
    await sleep(50);
  }
  return false;
}

for (const sig of ['SIGKILL', 'SIGTERM', 'SIGINT'] as const) {
  t.test(`${sig} to the owner leaves no server running`, async (t) => {
    const dir = makeRunDir(`cleanup-${sig}`);
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const o = await startOwner(dir);
    t.equal(o.servers.length, 3);
    t.ok(o.servers.every(running), 'mariadbd, postgres and nats-server run');
    process.kill(o.pid, sig);
    t.ok(await gone([o.pid, ...o.servers], 20_000), 'owner and all three servers are gone');
  });
}
