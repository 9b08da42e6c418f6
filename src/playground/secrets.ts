// The playground's secrets, generated on its first start and kept (0600 files in <dir>/secrets, 0700)
// for a --keep restart: the Raft group's secret, the agents' token, the NATS accounts, the members'
// secrets key and the passwords it would otherwise take from well-known defaults (the MariaDB admin
// account, replication, the compute node).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { SecretBox } from '../config/secret-box.js';
import { writeSecretFile } from '../config/secret-file.js';
import type { NatsUser } from '../launcher/nats.js';

export interface PlaygroundSecrets {
  dir: string;
  raftSecretFile: string;
  agentTokenFile: string;
  secretsKeyFile: string;
  natsManagerPasswordFile: string;
  natsWatcherPasswordFile: string;
  nats: { manager: NatsUser; watcher: NatsUser };
  /** The MariaDB admin account of the metadata shard and of the storage nodes (meta_user / meta_pwd). */
  admin: { user: string; password: string };
  /** A mysql client option file holding `admin`, for `mysql --defaults-extra-file=…` (no -p on a command line). */
  mysqlClientCnf: string;
  /** storage_repl_pwd and the metadata shard's replication account. */
  replPassword: string;
  /** The demo cluster's computer_password. */
  computePassword: string;
}

export const NATS_MANAGER_USER = 'cluster_mgr';
export const NATS_WATCHER_USER = 'watcher';
/** The original's name for the manager's account (meta_user's default); only its password is generated. */
export const ADMIN_USER = 'clustmgr';

export function playgroundSecrets(playgroundDir: string): PlaygroundSecrets {
  const dir = join(playgroundDir, 'secrets');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = (name: string, make: () => string): string => {
    const f = join(dir, name);
    if (!existsSync(f)) writeSecretFile(f, make());
    return f;
  };
  const read = (f: string): string => readFileSync(f, 'utf8').trim();
  const hex = (n: number) => (): string => `${randomBytes(n).toString('hex')}\n`;
  const natsManagerPasswordFile = file('nats-manager-password', hex(16));
  const natsWatcherPasswordFile = file('nats-watcher-password', hex(16));
  const admin = { user: ADMIN_USER, password: read(file('mysql-admin-password', hex(16))) };
  // Rewritten at every start from the kept password, so it always matches the account.
  const mysqlClientCnf = join(dir, 'mysql-client.cnf');
  writeSecretFile(mysqlClientCnf, `# written by cluster-mgr playground: its MariaDB admin account\n[client]\nuser=${admin.user}\npassword=${admin.password}\n`);
  return {
    dir,
    raftSecretFile: file('raft-secret', hex(32)),
    agentTokenFile: file('agent-token', hex(24)),
    secretsKeyFile: file('secrets-key', () => SecretBox.generateKeyText()),
    natsManagerPasswordFile,
    natsWatcherPasswordFile,
    nats: {
      manager: { user: NATS_MANAGER_USER, password: read(natsManagerPasswordFile) },
      watcher: { user: NATS_WATCHER_USER, password: read(natsWatcherPasswordFile) },
    },
    admin,
    mysqlClientCnf,
    replPassword: read(file('repl-password', hex(12))),
    // create_cluster takes at most 16 characters (comp_nodes.passwd).
    computePassword: read(file('compute-password', hex(8))),
  };
}

/**
 * The read-only NATS account of the playground in `playgroundDir`, if one ran there: what replay and
 * watch use when given no credentials, so the commands the README and the summary print work as pasted.
 */
export function playgroundWatcher(playgroundDir: string): { kind: 'password'; user: string; pass: string } | null {
  const f = join(playgroundDir, 'secrets', 'nats-watcher-password');
  if (!existsSync(f)) return null;
  return { kind: 'password', user: NATS_WATCHER_USER, pass: readFileSync(f, 'utf8').trim() };
}
