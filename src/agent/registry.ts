// The agent's durable memory of what it installed: one small JSON file under the base dir, replaced
// atomically (write a temporary file, fsync, rename, fsync the directory) on every change, so a kill -9
// at any moment leaves either the old or the new version. No password is ever written here: a restart
// of an existing instance needs none.
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic-file.js';
import { instanceDir, registryFile, type InstanceKind } from './paths.js';

export type Phase = 'installing' | 'installed' | 'uninstalling';

export interface StorageDetails {
  serverId: number;
  /** Buffer pool asked for by the manager, and the one used (MariaDB needs at least a few MB). */
  requestedBufferMb: number;
  bufferPoolMb: number;
  /** Names of the accounts created at install (never their passwords). */
  accounts: string[];
  isMaster: boolean;
  dbCfg: number;
  exporterPort: number;
  mgrPort: number;
  xport: number;
}

export interface ComputerDetails {
  user: string;
  computeNodeId: number;
  mysqlPort: number;
  exporterPort: number;
}

export interface InstanceRecord {
  kind: InstanceKind;
  port: number;
  /** Address the instance listens on. */
  host: string;
  dir: string;
  phase: Phase;
  /** What the manager asked for last: a stopped instance stays down. */
  desired: 'running' | 'stopped';
  /** Per-instance switch of the keepalive; off fences a killed old primary. */
  keepalive: boolean;
  /**
   * Set by kill_mysql (the HA fence), cleared by the next successful start: that start passes
   * `init-rpl-role=SLAVE`, so crash recovery drops the binlog tail of commits that were still waiting
   * for a semi-sync ACK (never acknowledged to a client; the new primary may not have them).
   */
  recoverAsReplica?: boolean;
  pid: number | null;
  installedAt: string;
  requestId: string;
  restarts: number;
  lastRestartAt: string | null;
  storage?: StorageDetails;
  computer?: ComputerDetails;
}

interface RegistryFileShape {
  format: 1;
  instances: InstanceRecord[];
}

export class RegistryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistryError';
  }
}

export class Registry {
  private readonly byPort = new Map<number, InstanceRecord>();

  private constructor(
    readonly file: string,
    readonly baseDir: string,
  ) {}

  /** Loads the registry of `baseDir` (empty when there is none); refuses a file it cannot trust. */
  static load(baseDir: string): Registry {
    const file = registryFile(baseDir);
    const reg = new Registry(file, baseDir);
    if (!existsSync(file)) return reg;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new RegistryError(`registry ${file} is not valid JSON: ${(e as Error).message}`);
    }
    const shape = parsed as Partial<RegistryFileShape> | null;
    if (!shape || shape.format !== 1 || !Array.isArray(shape.instances)) {
      throw new RegistryError(`registry ${file} has an unknown format (expected {"format":1,"instances":[…]})`);
    }
    shape.instances.forEach((rec, i) => {
      const problem = checkRecord(rec, baseDir);
      if (problem) throw new RegistryError(`registry ${file}: instance #${i}: ${problem}`);
      if (reg.byPort.has(rec.port)) throw new RegistryError(`registry ${file}: port ${rec.port} is listed twice`);
      reg.byPort.set(rec.port, rec);
    });
    return reg;
  }

  get(port: number): InstanceRecord | undefined {
    return this.byPort.get(port);
  }

  all(): InstanceRecord[] {
    return [...this.byPort.values()].sort((a, b) => a.port - b.port);
  }

  /** Adds or replaces the record of its port, and makes it durable before returning. */
  put(rec: InstanceRecord): void {
    this.byPort.set(rec.port, rec);
    this.save();
  }

  /** Changes some fields of a record durably; returns the new record. */
  update(port: number, change: Partial<InstanceRecord>): InstanceRecord {
    const cur = this.byPort.get(port);
    if (!cur) throw new RegistryError(`no instance on port ${port} in the registry`);
    const next = { ...cur, ...change };
    this.byPort.set(port, next);
    this.save();
    return next;
  }

  remove(port: number): void {
    if (this.byPort.delete(port)) this.save();
  }

  private save(): void {
    const body: RegistryFileShape = { format: 1, instances: this.all() };
    writeFileAtomic(this.file, `${JSON.stringify(body, null, 2)}\n`);
  }
}

const isInt = (v: unknown, min: number, max: number): boolean =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/** What is wrong with a record read from disk, or null. Its dir must be exactly where we put it. */
function checkRecord(r: InstanceRecord, baseDir: string): string | null {
  if (r === null || typeof r !== 'object') return 'not an object';
  if (r.kind !== 'storage' && r.kind !== 'computer') return `kind ${JSON.stringify(r.kind)} is not storage or computer`;
  if (!isInt(r.port, 1, 65_535)) return `port ${JSON.stringify(r.port)} is not a port`;
  let expected: string;
  try {
    expected = instanceDir(baseDir, r.kind, r.port);
  } catch (e) {
    return (e as Error).message;
  }
  if (r.dir !== expected) return `dir ${JSON.stringify(r.dir)} is not ${expected}; the agent only manages its own dirs`;
  if (typeof r.host !== 'string' || r.host === '') return 'host is missing';
  if (!['installing', 'installed', 'uninstalling'].includes(r.phase)) return `phase ${JSON.stringify(r.phase)} is unknown`;
  if (r.desired !== 'running' && r.desired !== 'stopped') return `desired ${JSON.stringify(r.desired)} is unknown`;
  if (typeof r.keepalive !== 'boolean') return 'keepalive is not a boolean';
  if (r.pid !== null && !isInt(r.pid, 1, 2 ** 31)) return `pid ${JSON.stringify(r.pid)} is not a pid`;
  if (!isInt(r.restarts, 0, Number.MAX_SAFE_INTEGER)) return 'restarts is not a count';
  if (r.kind === 'storage' && (!r.storage || !isInt(r.storage.serverId, 1, 4_294_967_295))) {
    return 'storage details (server id) are missing';
  }
  if (r.kind === 'computer' && (!r.computer || typeof r.computer.user !== 'string')) {
    return 'computer details (user) are missing';
  }
  return null;
}
