// procState: what the agent tells the manager of a server process (list_instances proc_state); the
// manager's hang detection takes "stopped" as the sign of a SIGSTOPped (hung) primary.
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { procState } from '../../src/agent/procfs.js';

async function until(pid: number, want: ReturnType<typeof procState>): Promise<ReturnType<typeof procState>> {
  for (let i = 0; i < 100 && procState(pid) !== want; i++) await sleep(20);
  return procState(pid);
}

t.test('running, stopped by SIGSTOP, running again on SIGCONT, null once gone', async (t) => {
  const p = spawn('sleep', ['30'], { stdio: 'ignore' });
  const pid = p.pid!;
  t.equal(procState(pid), 'running', 'a sleeping process counts as running');
  process.kill(pid, 'SIGSTOP');
  t.equal(await until(pid, 'stopped'), 'stopped');
  process.kill(pid, 'SIGCONT');
  t.equal(await until(pid, 'running'), 'running');
  const exited = once(p, 'exit');
  process.kill(pid, 'SIGKILL');
  await exited;
  t.equal(procState(pid), null, 'reaped: no process');
  t.equal(procState(2 ** 22 + 12_345), null, 'a pid that does not exist');
});
