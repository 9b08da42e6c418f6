// How much a directory holds and how much room its file system has left: the physical copy's
// free-disk check and the sizes of kept data dirs an operator sees.
import { lstatSync, readdirSync, statfsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Bytes of the files under `dir` (their sizes, what mariadb-backup streams of them), without following
 * symbolic links; files that vanish while it walks (a running server's temporary files) are skipped.
 */
export function treeBytes(dir: string): number {
  let total = 0;
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      try {
        const st = lstatSync(p);
        if (st.isDirectory()) walk(p);
        else if (st.isFile()) total += st.size;
      } catch {
        // Gone meanwhile.
      }
    }
  };
  walk(dir);
  return total;
}

/** Bytes an unprivileged writer may still use on the file system of `dir` (statfs f_bavail). */
export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** "1.5 GiB", for messages beside the exact byte count. */
export function humanBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[i]}`;
}
