// What a benchmark records about the machine it ran on (CPUs, memory, the disk and its write pace, the
// load) and the CPU time of a process, shared by the benchmarks that report them.
import { execFileSync } from 'node:child_process';
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/** MiB/s of writing 512 MiB (in 8 MiB writes) and fsync-ing it under `dir`: the disk's pace for the record. */
function diskWriteRate(dir: string): number {
  const d = mkdtempSync(join(dir, 'cmgr-bench-disk-'));
  try {
    const chunk = Buffer.alloc(8 * MIB, 0x5a);
    const t0 = process.hrtime.bigint();
    const fd = openSync(join(d, 'probe'), 'w', 0o600);
    try {
      for (let i = 0; i < 64; i++) writeSync(fd, chunk);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return 512 / (Number(process.hrtime.bigint() - t0) / 1e9);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

/** The machine, for the record: CPUs, memory, the disk under the run dir (and its write pace), the load. */
export function machine(dir: string): { nproc: number; memGib: number; disk: string; loadavg: number[] } {
  const run = (cmd: string, args: string[]): string => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
    } catch {
      return '?';
    }
  };
  const dev = run('findmnt', ['-n', '-o', 'SOURCE', '--target', dir]);
  const [size = '?', rota = '?', ...model] = dev.startsWith('/dev/') ? run('lsblk', ['-d', '-n', '-o', 'SIZE,ROTA,MODEL', dev]).split(/\s+/) : [];
  const kind = rota === '1' ? 'rotational as the kernel reports it' : rota === '0' ? 'non-rotational' : 'kind unknown';
  const disk = `${dev}, ${size}, ${kind}${model.length > 0 ? `, ${model.join(' ')}` : ''}, writes ${Math.round(diskWriteRate(dir))} MiB/s (512 MiB + fsync)`;
  return { nproc: os.cpus().length, memGib: Math.round(os.totalmem() / GIB), disk, loadavg: os.loadavg().map((x) => Number(x.toFixed(2))) };
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}
