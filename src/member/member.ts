// One cluster_mgr member process: configuration, logging, its data directory and its HTTP server.
// The Raft group, the event world, reconcilers and the API are attached to this as they are built.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from '../config/load.js';
import { describeConfig } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import { DataDirLock } from './data-dir.js';
import { VERSION } from '../version.js';

export interface MemberHandle {
  http: FastifyInstance;
  url: string;
  stop(): Promise<void>;
}

export async function startMember(cfg: Config, log: Logger): Promise<MemberHandle> {
  const lock = DataDirLock.acquire(cfg.dataDir);
  const startedAt = Date.now();
  log.info({ config_file: cfg.configFile, config: describeConfig(cfg) }, 'cluster_mgr member starting');
  const http = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  http.get('/healthz', () => ({
    status: 'ok',
    member: cfg.selfId,
    version: VERSION,
    uptime_s: Math.round((Date.now() - startedAt) / 1000),
  }));
  const host = cfg.str('http_bind') || cfg.str('local_ip');
  const port = cfg.int('brpc_http_port');
  try {
    await http.listen({ host, port });
  } catch (e) {
    lock.release();
    throw new Error(`cannot listen on ${host}:${port} (brpc_http_port, ${cfg.sources.brpc_http_port}): ${(e as Error).message}`, { cause: e });
  }
  const url = `http://${host}:${port}`;
  log.info({ url, data_dir: cfg.dataDir }, 'cluster_mgr member serving HTTP');
  return {
    http,
    url,
    async stop() {
      await http.close();
      lock.release();
      log.info('cluster_mgr member stopped');
    },
  };
}
