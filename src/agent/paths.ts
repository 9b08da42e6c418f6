// Where instances live, and the rule that the agent never creates or deletes anything outside its
// base dir: every path is built from validated parts, then checked lexically and, for what exists,
// through real paths, so neither "../" nor a symbolic link can lead out.
import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

export type InstanceKind = 'storage' | 'computer';

export class PathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PathError';
  }
}

/** True when `p` is strictly inside `base` (not base itself). */
export function isInside(base: string, p: string): boolean {
  const rel = relative(base, p);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) && !rel.split(sep).includes('..');
}

/**
 * Returns `p` resolved, or throws if it is not inside `base`: lexically, and through symbolic links
 * for the deepest part that already exists.
 */
export function confine(base: string, p: string): string {
  const abs = resolve(p);
  const realBase = existsSync(base) ? realpathSync(base) : resolve(base);
  if (!isInside(resolve(base), abs)) throw new PathError(`path ${abs} is outside the agent's base dir ${base}`);
  let probe = abs;
  while (!existsSync(probe) && probe !== dirname(probe)) probe = dirname(probe);
  const real = realpathSync(probe);
  if (real !== realBase && !isInside(realBase, real)) {
    throw new PathError(`path ${abs} leads outside the agent's base dir ${base} (through ${real})`);
  }
  return abs;
}

/** <base>/storage/<port> or <base>/computer/<port>, like node_mgr's <instance_binaries_path>/<kind>/<port>. */
export function instanceDir(base: string, kind: InstanceKind, port: number): string {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new PathError(`bad port ${port}`);
  return confine(base, join(base, kind, String(port)));
}

export function registryFile(base: string): string {
  return join(base, 'agent-registry.json');
}

/** The outcomes of physical copies, next to the registry. */
export function copiesFile(base: string): string {
  return join(base, 'agent-copies.json');
}
