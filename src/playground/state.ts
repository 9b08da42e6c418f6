// The playground's directory and its state file (playground.json): what runs where, the owner's pid,
// and the ports, so `--down` from another shell, `cluster-mgr status` and a `--keep` restart find it.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pidAlive } from '../launcher/pid-lock.js';

/** <repository>/.playground, wherever the command is run from. */
export const DEFAULT_PLAYGROUND_DIR = fileURLToPath(new URL('../../../.playground', import.meta.url));
export const BIN = fileURLToPath(new URL('../../../bin/cluster-mgr.js', import.meta.url));

export interface MemberEntry {
  name: string;
  /** Raft id, host:raft_port. */
  id: string;
  url: string;
  httpPort: number;
  raftPort: number;
  pid: number | null;
}

export interface PlaygroundState {
  version: 1;
  /** The playground process that owns everything here. */
  pid: number;
  dir: string;
  phase: 'starting' | 'ready' | 'stopping';
  keep: boolean;
  startedAt: string;
  readyAfterMs: number | null;
  ports: {
    nats: number;
    meta: number[];
    agent: number;
    members: { http: number; raft: number }[];
  };
  natsUrl: string;
  stream: string;
  metaSeeds: string;
  metaUser: string;
  agentUrl: string;
  members: MemberEntry[];
  clusterId: number | null;
}

export function resolveDir(dir: string | undefined): string {
  return resolve(dir ?? process.env.CLUSTER_MGR_PLAYGROUND_DIR ?? DEFAULT_PLAYGROUND_DIR);
}

export const stateFile = (dir: string): string => join(dir, 'playground.json');
/** The playground's admin API token (mode 0600): `cluster-mgr status` and `replay` find it there. */
export const PLAYGROUND_TOKEN_FILE = 'api-token';
/** The same as a curl header file (`curl -H @file`): printed commands carry no token. */
export const PLAYGROUND_HEADER_FILE = 'api-auth-header';

export function readState(dir: string): PlaygroundState | null {
  const f = stateFile(dir);
  if (!existsSync(f)) return null;
  try {
    const s = JSON.parse(readFileSync(f, 'utf8')) as PlaygroundState;
    return s.version === 1 ? s : null;
  } catch {
    return null;
  }
}

export function writeState(s: PlaygroundState): void {
  const f = stateFile(s.dir);
  writeFileSync(`${f}.tmp`, `${JSON.stringify(s, null, 2)}\n`);
  renameSync(`${f}.tmp`, f);
}

/** True when `pid` is alive (not a zombie). */
export function alive(pid: number | null | undefined): boolean {
  return !!pid && pid > 1 && pidAlive(pid);
}
