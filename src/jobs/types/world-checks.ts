// The checks of a request against the world that several job types share (run by the leader when it
// checks job.start; pure: they read the world and throw ParaError with the field and the original's
// error number).
import type { World } from '../../actors/index.js';
import { refuse, type Refusal } from '../../actors/commands/common.js';
import { ParaError, type ParaReader } from '../../actors/commands/paras.js';

export function fail(r: Refusal): never {
  throw new ParaError(r);
}

export function clusterById(world: World, p: ParaReader, key: string, errno: number, missing = errno): number {
  const id = p.int(key, { min: 1, errno: missing });
  if (world.cluster(id) === null) fail(refuse('not_found', `cluster ${id} does not exist`, `paras.${key}`, errno));
  return id;
}

export function shardIn(world: World, p: ParaReader, cluster: number, key: string, errno: number): number {
  const id = p.int(key, { min: 1, errno });
  const s = world.shard(id);
  if (s === null || s.cluster !== cluster) fail(refuse('not_found', `shard ${id} is not in cluster ${cluster}`, `paras.${key}`, errno));
  return id;
}

export function registeredHosts(world: World, hosts: string[], role: 'storage' | 'computer', key: string, errno: number): void {
  for (const [i, h] of hosts.entries()) {
    if (world.machine(h)?.roles[role] === undefined) {
      fail(refuse('not_found', `${h} is not registered as a ${role} machine`, `paras.${key}[${i}]`, errno));
    }
  }
}

export function nodeAt(world: World, shard: number, host: string, port: number, field: string, errno: number): number {
  const at = world.nodeAt(host, port);
  const id = at?.startsWith('node/') === true ? Number(at.slice(5)) : null;
  if (id === null || world.shardOf(id) !== shard) fail(refuse('not_found', `${host}:${port} is not a node of shard ${shard}`, field, errno));
  return id;
}

export const clusterLock = (id: number): string => `cluster/${id}`;
