// The configuration of a one-member group on loopback (no NATS, no metadata shard, fast ticks), for
// tests that run a member in their own process; `overrides` replace or add keys (e.g. a metadata shard);
// starting such a member and executing commands on it.
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config/load.js';
import { freePort } from '../../src/launcher/index.js';
import { createLogger } from '../../src/log/logger.js';
import { ManagerRuntime } from '../../src/member/runtime.js';
import type { Command } from '../../src/actors/index.js';
import { waitFor } from '../agent/helpers.js';
import { testTokens } from './api-tokens.js';
import { splitSecrets } from './secret-env.js';

export async function singleMemberConfig(dir: string, overrides: Record<string, string | number> = {}): Promise<Config> {
  const raftPort = await freePort();
  const keys: Record<string, string | number> = {
    brpc_raft_port: raftPort,
    brpc_http_port: await freePort(),
    raft_group_member_init_config: `127.0.0.1:${raftPort}:0,`,
    cluster_mgr_tmp_data_path: join(dir, 'member'),
    nats_url: '',
    meta_group_seeds: '',
    raft_tick_ms: 20,
    api_tokens_file: testTokens(dir).file,
    ...overrides,
  };
  const { sets, env } = splitSecrets(Object.entries(keys).map(([k, v]) => `${k}=${v}`));
  return loadConfig({ env, sets });
}

/** Starts a member of `cfg` in this process (logging to `dir`/manager-`n`), kept in `runtimes` for the
 *  teardown, and waits until it leads. */
export async function startLeadingMember(cfg: Config, dir: string, n: number, runtimes: ManagerRuntime[]): Promise<ManagerRuntime> {
  const rt = await ManagerRuntime.start(cfg, createLogger({ level: 'debug', file: join(dir, `manager-${n}`) }));
  runtimes.push(rt);
  await waitFor('the member to lead', 20_000, () => (rt.isLeader ? true : undefined));
  return rt;
}

/** Executes a command that must be applied; the id of the aggregate its first event concerns. */
export async function execOk(rt: ManagerRuntime, cmd: Command, user: string): Promise<number> {
  const r = await rt.execute(cmd, { user });
  if (!r.ok || !r.result.ok) throw new Error(`${cmd.kind}: ${JSON.stringify(r)}`);
  return Number(r.result.committed[0]!.event.agg.split('/')[1]);
}
