// The secrets a member reads from files at start (agent token, Raft secret, NATS credentials, the
// secrets key), each read once per configuration, with the warnings an operator must see at every
// start (a secret file others may read, a port left open on loopback, passwords kept in clear).
import { readFileSync } from 'node:fs';
import { ConfigError } from './cnf-file.js';
import { KEYS } from './keys.js';
import type { Config } from './load.js';
import { SecretBox } from './secret-box.js';
import { isLoopbackHost, looseConfigWarning, readSecretFile } from './secret-file.js';

/** How a client authenticates to NATS: nothing, user and password, or a creds / nkey seed file's text. */
export type NatsCredentials =
  | { kind: 'none' }
  | { kind: 'password'; user: string; pass: string }
  | { kind: 'creds'; text: string };

export interface MemberSecrets {
  /** Bearer token and CA for calls to node agents. */
  agent: { token?: string; tlsCa?: Buffer };
  /** The Raft group's shared secret, or null when every member listens on loopback and none is set. */
  raftSecret: Buffer | null;
  nats: NatsCredentials;
  /** Seals passwords before they are proposed; null: kept in clear (warned). */
  box: SecretBox | null;
  /** Said at every start: files others may read, what is left open. */
  warnings: string[];
}

const cache = new WeakMap<Config, MemberSecrets>();

export function memberSecrets(cfg: Config): MemberSecrets {
  let s = cache.get(cfg);
  if (!s) {
    s = load(cfg);
    cache.set(cfg, s);
  }
  return s;
}

function load(cfg: Config): MemberSecrets {
  const warnings: string[] = [];
  const warn = (w: string): void => void warnings.push(w);
  const file = (key: string): string | null => (cfg.str(key) === '' ? null : cfg.str(key));
  const loose = looseConfigWarning(cfg.configFile, KEYS, cfg.sources, cfg.values);
  if (loose) warn(loose);

  const tokenFile = file('agent_token_file');
  const token = tokenFile ? readSecretFile(tokenFile, 'agent_token_file', warn) : cfg.str('agent_token');
  const caFile = file('agent_tls_ca_file');
  const agent = { ...(token ? { token } : {}), ...(caFile ? { tlsCa: readFileSync(caFile) } : {}) };

  const raftFile = file('raft_secret_file');
  let raftSecret: Buffer | null = null;
  if (raftFile) raftSecret = Buffer.from(readSecretFile(raftFile, 'raft_secret_file', warn), 'utf8');
  else if (cfg.peers.every((p) => isLoopbackHost(p.host))) {
    warn('raft_secret_file is not set: the Raft port accepts any local process that names the group (loopback only)');
  } else {
    throw new ConfigError(
      'key raft_secret_file: members on other machines must authenticate each other; write the same secret ' +
        '(e.g. openssl rand -hex 32) to a 0600 file on every member and name it here',
    );
  }

  const nats = natsCredentials(cfg, warn);
  if (nats.kind === 'none' && cfg.str('nats_url') !== '') {
    warn('NATS credentials are not set (nats_user or nats_creds_file): the mirror connects anonymously');
  }

  const keyFile = file('secrets_key_file');
  const box = keyFile ? SecretBox.fromFile(keyFile, warn) : null;
  if (!box) warn('secrets_key_file is not set: compute passwords are kept in clear in the Raft log and snapshots');
  if (cfg.str('storage_repl_pwd') === 'repl_pwd') warn('storage_repl_pwd is the built-in default "repl_pwd": set your own');
  return { agent, raftSecret, nats, box, warnings };
}

/** The NATS credentials a configuration names (also used by replay and watch with --config). */
export function natsCredentials(cfg: Config, warn: (msg: string) => void = () => {}): NatsCredentials {
  const creds = cfg.str('nats_creds_file');
  if (creds !== '') return { kind: 'creds', text: readSecretFile(creds, 'nats_creds_file', warn) };
  if (cfg.str('nats_user') === '') return { kind: 'none' };
  const pwFile = cfg.str('nats_password_file');
  if (pwFile === '') throw new ConfigError('key nats_user: set nats_password_file too (a 0600 file holding its password)');
  return { kind: 'password', user: cfg.str('nats_user'), pass: readSecretFile(pwFile, 'nats_password_file', warn) };
}
