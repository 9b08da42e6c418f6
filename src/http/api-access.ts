// Who may call the API, read once at start-up from the configuration: the tokens and their roles
// (api_tokens_file, or one admin api_token from the cnf file or CLUSTER_MGR_API_TOKEN), the hosts that
// may call Emit without a token (api_allowed_clients), the web origins granted CORS
// (api_allowed_origins) and the HTTPS pair. A member with api_auth = on and no token does not start.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeSecretFile } from '../config/secret-file.js';
import { BlockList, isIP } from 'node:net';
import { ConfigError, type Config } from '../config/load.js';
import { at, readTokensFile, warnLooseMode } from '../config/api-tokens.js';
import { ROLES, type Role } from './route-roles.js';

/** Shorter tokens are refused: they could be guessed. */
export const MIN_TOKEN_LENGTH = 16;

export interface ApiToken {
  role: Role;
  /** sha256 of the token: the token itself is not kept beside the others. */
  digest: Buffer;
  /** Where it was set ("api_tokens_file:3"), for logs; never the token. */
  label: string;
}

export interface ApiAccess {
  /** api_auth = off: every route is open. */
  open: boolean;
  tokens: ApiToken[];
  /** Hosts that may call Emit without a token (null: none). */
  allowedClients: BlockList | null;
  allowedOrigins: ReadonlySet<string>;
  /** An admin token this member sends when it relays a request to the leader ('' when none). */
  relayToken: string;
  tls: { cert: Buffer; key: Buffer } | null;
  /** Said at every start (api_auth = off, loose file modes). */
  warnings: string[];
}

export const tokenDigest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export function loadApiAccess(cfg: Config): ApiAccess {
  const warnings: string[] = [];
  const tokens: { role: Role; token: string; label: string }[] = [];
  const single = cfg.str('api_token');
  if (single !== '') tokens.push({ role: 'admin', token: single, label: `api_token (${cfg.sources.api_token})` });
  const file = cfg.str('api_tokens_file');
  if (file !== '') tokens.push(...readTokensFile(at(cfg, file), warnings));
  for (const t of tokens) {
    if (t.token.length < MIN_TOKEN_LENGTH) {
      throw new ConfigError(`${t.label}: the token is shorter than ${MIN_TOKEN_LENGTH} characters; generate one with: openssl rand -hex 32`);
    }
  }
  const open = cfg.str('api_auth') === 'off';
  if (open) {
    warnings.push('api_auth = off: the HTTP API is open to anyone who reaches it (every job, deletions included); set api_auth = on with api_tokens_file');
  } else if (tokens.length === 0) {
    throw new ConfigError(
      'api_auth is on and no API token is set: put "<role> <token>" lines in api_tokens_file (mode 0600), ' +
        'or one admin token in CLUSTER_MGR_API_TOKEN; to serve the API open, set api_auth = off explicitly',
    );
  }
  if (!open && !tokens.some((t) => t.role === 'admin')) {
    warnings.push('no admin API token: this member cannot relay Emit requests to the leader when it is a follower; add an "admin <token>" line to api_tokens_file');
  }
  return {
    open,
    tokens: tokens.map((t) => ({ role: t.role, digest: tokenDigest(t.token), label: t.label })),
    allowedClients: parseAllowedClients(cfg.str('api_allowed_clients'), cfg.sources.api_allowed_clients ?? 'api_allowed_clients'),
    allowedOrigins: new Set(cfg.str('api_allowed_origins').split(',').filter((o) => o !== '').map((o) => o.replace(/\/$/, ''))),
    relayToken: tokens.find((t) => t.role === 'admin')?.token ?? '',
    tls: readTls(cfg, warnings),
    warnings,
  };
}

/** Addresses and CIDR blocks, IPv4 or IPv6; IPv4 also matches its IPv4-mapped IPv6 form. */
export function parseAllowedClients(text: string, where: string): BlockList | null {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) return null;
  const list = new BlockList();
  for (const item of items) {
    const [addr = '', bits] = item.split('/');
    const family = isIP(addr);
    const max = family === 4 ? 32 : 128;
    const prefix = bits === undefined ? max : Number(bits);
    if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > max || (bits !== undefined && !/^\d+$/.test(bits))) {
      throw new ConfigError(`${where}: key api_allowed_clients: ${JSON.stringify(item)} is not an address or a CIDR block`);
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    list.addSubnet(addr, prefix, type);
  }
  return list;
}

/** Whether a socket's remote address is in the list ("::ffff:10.0.0.1" is the IPv4 caller 10.0.0.1). */
export function clientAllowed(list: BlockList | null, address: string | undefined): boolean {
  if (list === null || address === undefined) return false;
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (v4 !== undefined) return list.check(v4, 'ipv4');
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

function readTls(cfg: Config, warnings: string[]): ApiAccess['tls'] {
  if (cfg.str('api_tls_cert') === '' && cfg.str('api_tls_key') === '') return null;
  const cert = at(cfg, cfg.str('api_tls_cert'));
  const key = at(cfg, cfg.str('api_tls_key'));
  if (cfg.str('api_tls_cert') === '' || cfg.str('api_tls_key') === '') throw new ConfigError('api_tls_cert and api_tls_key: set both (HTTPS) or neither');
  if (cert === '' || key === '') throw new ConfigError('api_tls_cert and api_tls_key: set both (HTTPS) or neither');
  const read = (name: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new ConfigError(`${name} ${file}: cannot read it (${(e as Error).message})`);
    }
  };
  const pair = { cert: read('api_tls_cert', cert), key: read('api_tls_key', key) };
  warnLooseMode(key, 'api_tls_key', warnings);
  return pair;
}

/** A new random token (256 bits, hex). */
export const generateToken = (): string => randomBytes(32).toString('hex');

/** One token of each role, written as an api_tokens_file (mode 0600) at `file`. */
export function writeTokensFile(file: string): Record<Role, string> & { file: string } {
  const t = { read: generateToken(), operator: generateToken(), admin: generateToken() };
  writeSecretFile(file, `# written by cluster_mgr: <role> <token>\n${ROLES.map((r) => `${r} ${t[r]}`).join('\n')}\n`);
  return { ...t, file };
}
