// The data dirs a copy with need_backup=1 kept aside (`data.old-<UTC stamp>`): what an operator sees
// in list_instances, and the retention that removes the oldest after a successful copy, so a node
// rebuilt again and again does not fill its disk. The one a copy has just made is never removed.
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { treeBytes } from './disk.js';

export const OLD_PREFIX = 'data.old-';

export interface OldDatadir {
  path: string;
  name: string;
  /** When it was put aside: the stamp in its name (its mtime if the name has none). */
  since: Date;
}

export interface Retention {
  /** How many kept dirs an instance may have (the newest; at least the one just made stays). */
  keep: number;
  /** Older than this many days are removed too; 0 = no age limit. */
  maxAgeDays: number;
}

/** 20261207T201500Z: sorts by time, and is a plain file name. */
export function oldStamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

function sinceOf(name: string, path: string): Date {
  const m = /^data\.old-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(name);
  if (m) return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  return statSync(path).mtime;
}

/** The kept data dirs of an instance dir, oldest first. */
export function listOldDatadirs(instanceDir: string): OldDatadir[] {
  let names: string[];
  try {
    names = readdirSync(instanceDir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(OLD_PREFIX))
    .map((name) => ({ name, path: join(instanceDir, name), since: sinceOf(name, join(instanceDir, name)) }))
    .sort((a, b) => a.since.getTime() - b.since.getTime() || a.name.localeCompare(b.name));
}

/** Which of `dirs` the retention removes: beyond the newest `keep`, or older than the age limit; never `justMade`. */
export function beyondRetention(dirs: readonly OldDatadir[], r: Retention, now: Date, justMade?: string): OldDatadir[] {
  const newestFirst = [...dirs].sort((a, b) => b.since.getTime() - a.since.getTime() || b.name.localeCompare(a.name));
  // The one just made counts first, whatever its stamp says.
  const ordered = [...newestFirst.filter((d) => d.path === justMade), ...newestFirst.filter((d) => d.path !== justMade)];
  const maxAgeMs = r.maxAgeDays * 86_400_000;
  return ordered.filter((d, i) => d.path !== justMade && (i >= Math.max(r.keep, 1) || (maxAgeMs > 0 && now.getTime() - d.since.getTime() > maxAgeMs)));
}

/** Sizes of kept dirs, by path: they never change, and walking a data dir on every list_instances is slow. */
const sizeCache = new Map<string, number>();

export function oldDatadirBytes(path: string): number {
  let n = sizeCache.get(path);
  if (n === undefined) {
    n = treeBytes(path);
    sizeCache.set(path, n);
  }
  return n;
}

/** Removes what the retention says; returns what was removed with its size, for the log and the status. */
export function pruneOldDatadirs(instanceDir: string, r: Retention, now: Date, justMade?: string): { path: string; bytes: number }[] {
  const out: { path: string; bytes: number }[] = [];
  for (const d of beyondRetention(listOldDatadirs(instanceDir), r, now, justMade)) {
    const bytes = oldDatadirBytes(d.path);
    rmSync(d.path, { recursive: true, force: true });
    sizeCache.delete(d.path);
    out.push({ path: d.path, bytes });
  }
  return out;
}

/** What list_instances shows of each kept dir. */
export function describeOldDatadirs(instanceDir: string): { path: string; bytes: number; kept_since: string }[] {
  return listOldDatadirs(instanceDir).map((d) => ({ path: d.path, bytes: oldDatadirBytes(d.path), kept_since: d.since.toISOString() }));
}
