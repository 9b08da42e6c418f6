// The configuration of a one-member group on loopback (no NATS, no metadata shard, fast ticks), for
// tests that run a member in their own process; `overrides` replace or add keys (e.g. a metadata shard).
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config/load.js';
import { freePort } from '../../src/launcher/index.js';

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
    ...overrides,
  };
  return loadConfig({ env: {}, sets: Object.entries(keys).map(([k, v]) => `${k}=${v}`) });
}
