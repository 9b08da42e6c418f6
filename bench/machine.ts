// What a benchmark records about the machine it ran on (CPUs, memory, the disk and its write pace, the
// load) and the CPU time of a process, shared by the benchmarks that report them.
import { execFileSync } from 'node:child_process';
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
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
export interface Machine {
  nproc: number;
  memGib: number;
  disk: string;
  loadavg: number[];
}

export function machine(dir: string): Machine {
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

/**
 * A bench's figures as a markdown table for docs/benchmarks.md: the command, the date, the machine and
 * its load before and after, a line about the data, then the rows (the first is the header).
 */
export function writeMarkdown(file: string, o: { command: string; host: Machine; loadAfter: number[]; data: string; rows: string[][] }): void {
  const md = [
    `\`${o.command}\` — ${new Date().toISOString().slice(0, 10)}, ${o.host.nproc} CPUs, ${o.host.memGib} GiB, disk ${o.host.disk}, load ${o.host.loadavg.join(' ')} before / ${o.loadAfter.join(' ')} after;`,
    o.data,
    '',
    `| ${o.rows[0]!.join(' | ')} |`,
    `|${o.rows[0]!.map(() => '---').join('|')}|`,
    // A cell's own | (a pipe in a command) would end it.
    ...o.rows.slice(1).map((r) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`),
    '',
  ].join('\n');
  writeFileSync(file, md);
}
