// Test settings as key=value: the secret ones (meta_pwd, api_token, …) go in the environment as
// CLUSTER_MGR_<KEY>, because a member refuses a secret on its command line (`--set`, visible in ps).
import { KEY_BY_NAME } from '../../src/config/keys.js';
import { ENV_PREFIX } from '../../src/config/load.js';

export function splitSecrets(all: readonly string[]): { sets: string[]; env: Record<string, string> } {
  const sets: string[] = [];
  const env: Record<string, string> = {};
  for (const s of all) {
    const eq = s.indexOf('=');
    const key = s.slice(0, eq);
    if (KEY_BY_NAME.get(key)?.secret) env[`${ENV_PREFIX}${key.toUpperCase()}`] = s.slice(eq + 1);
    else sets.push(s);
  }
  return { sets, env };
}
