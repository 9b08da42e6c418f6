// The shard-HA settings, read once from the member's configuration.
import type { Config } from '../config/load.js';
import type { Credentials, Endpoint } from '../storage-node/replication.js';

export interface HaSettings {
  observer: string;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  deadSamples: number;
  minIntervalMs: number;
  waitAppliedMs: number;
  stepDelayMs: number;
  autoRebuild: boolean;
  autoRebuildRetryMs: number;
  rebuildPvLimitMb: number;
  /** The manager's account on storage nodes (meta_user / meta_pwd, as the original). */
  storage: Credentials;
  repl: Credentials;
  /** node "host:port" → where the manager connects instead. */
  connectMap: Map<string, Endpoint>;
}

export function parseConnectMap(text: string): Map<string, Endpoint> {
  const out = new Map<string, Endpoint>();
  for (const pair of text.split(',').filter((x) => x !== '')) {
    const [from, to] = pair.split('=') as [string, string];
    const i = to.lastIndexOf(':');
    out.set(from, { host: to.slice(0, i), port: Number(to.slice(i + 1)) });
  }
  return out;
}

export function haSettings(cfg: Config): HaSettings {
  return {
    observer: cfg.selfId,
    probeIntervalMs: cfg.int('probe_interval_ms'),
    probeTimeoutMs: cfg.int('probe_timeout_ms'),
    deadSamples: cfg.int('failover_dead_samples'),
    minIntervalMs: cfg.int('failover_min_interval_ms'),
    waitAppliedMs: cfg.int('failover_wait_applied_ms'),
    stepDelayMs: cfg.int('failover_step_delay_ms'),
    autoRebuild: cfg.values.auto_rebuild === true,
    autoRebuildRetryMs: cfg.int('auto_rebuild_retry_sec') * 1000,
    rebuildPvLimitMb: cfg.int('rebuild_pv_limit_mb'),
    storage: { user: cfg.str('meta_user'), password: cfg.str('meta_pwd') },
    repl: { user: cfg.str('storage_repl_user'), password: cfg.str('storage_repl_pwd') },
    connectMap: parseConnectMap(cfg.str('storage_connect_map')),
  };
}
