// API tokens as configuration holds them: the roles, the api_tokens_file format ("<role> <token>" a
// line), and where a command-line client finds its token without a command line: CLUSTER_MGR_API_TOKEN,
// then --token-file, then a default file (the playground's api-token), then a configuration's token.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError, loadConfig, type Config } from './load.js';

/** read: views and status; operator: jobs; admin: deletions, raft_mission, set_variable. */
export const ROLES = ['read', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** A path of the configuration: relative paths are relative to the config file, like every path of it. */
export const at = (cfg: Config, p: string): string => (isAbsolute(p) ? p : resolve(cfg.configFile !== null ? dirname(cfg.configFile) : process.cwd(), p));

/** "<role> <token>" lines; "#" starts a comment. Errors name the file and line, never the token. */
export function readTokensFile(file: string, warnings: string[]): { role: Role; token: string; label: string }[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`api_tokens_file ${file}: cannot read it (${(e as Error).message})`);
  }
  warnLooseMode(file, 'api_tokens_file', warnings);
  const out: { role: Role; token: string; label: string }[] = [];
  text.split('\n').forEach((line, i) => {
    const s = line.replace(/#.*$/, '').trim();
    if (s === '') return;
    const [role, token, ...rest] = s.split(/\s+/);
    const where = `api_tokens_file ${file}:${i + 1}`;
    if (!(ROLES as readonly string[]).includes(role!) || token === undefined || rest.length > 0) {
      throw new ConfigError(`${where}: expected "<role> <token>" with role ${ROLES.join(', ')}`);
    }
    out.push({ role: role as Role, token, label: where });
  });
  if (out.length === 0) throw new ConfigError(`api_tokens_file ${file}: holds no token`);
  return out;
}

/** A secret file others can read is warned about (not refused: the operator may have reasons). */
export function warnLooseMode(file: string, key: string, warnings: string[]): void {
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) warnings.push(`${key} ${file} is readable by other users (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 it`);
}

export interface TokenSources {
  tokenFile?: string;
  configFile?: string;
  /** Tried when neither of the above is given (the playground's api-token). */
  defaultFile?: string;
  env?: NodeJS.ProcessEnv;
}

/** The token a client sends, or null when none is found. */
export function findApiToken(o: TokenSources = {}): string | null {
  const env = o.env ?? process.env;
  if (env.CLUSTER_MGR_API_TOKEN) return env.CLUSTER_MGR_API_TOKEN;
  if (o.tokenFile !== undefined) return readTokenFile(o.tokenFile);
  if (o.configFile !== undefined) {
    const cfg = loadConfig({ file: o.configFile, env });
    if (cfg.str('api_token') !== '') return cfg.str('api_token');
    if (cfg.str('api_tokens_file') !== '') return readTokensFile(at(cfg, cfg.str('api_tokens_file')), [])[0]!.token;
    return null;
  }
  return o.defaultFile !== undefined && existsSync(o.defaultFile) ? readTokenFile(o.defaultFile) : null;
}

function readTokenFile(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new Error(`token file ${file}: cannot read it (${(e as Error).message})`, { cause: e });
  }
}
