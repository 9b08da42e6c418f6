// `cluster-mgr agent`: runs the node agent in the foreground (systemd keeps it running; see
// deploy/cluster-mgr-agent.service). Config errors print one line and exit 2; start failures exit 1.
// SIGTERM/SIGINT stop the agent but never its instances.
import { Option, type Command } from 'commander';
import { createLogger } from '../log/logger.js';
import { looseConfigWarning } from '../config/secret-file.js';
import { AGENT_KEYS, ConfigError, describeAgentConfig, loadAgentConfig, type AgentConfig } from './config.js';
import { runAgent } from './server.js';

export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description('run the node agent on this machine (speaks node_mgr\'s protocol; installs and keeps MariaDB and PostgreSQL instances)')
    .addOption(new Option('-c, --config <file>', 'agent configuration file (node_mgr.cnf format; see docs/agent.md)'))
    .addOption(
      new Option('-s, --set <key=value>', 'override one agent configuration key (repeatable)').argParser(
        (v: string, prev: string[] = []) => [...prev, v],
      ),
    )
    .action(async (opts: { config?: string; set?: string[] }) => {
      let cfg: AgentConfig;
      const warnings: string[] = [];
      try {
        cfg = loadAgentConfig({ file: opts.config ?? null, sets: opts.set ?? [], env: process.env, warn: (w) => warnings.push(w) });
      } catch (e) {
        if (e instanceof ConfigError) {
          console.error(`cluster-mgr agent: config error: ${e.message.replace(/\n/g, ' ')}`);
          process.exit(2);
        }
        throw e;
      }
      const log = createLogger({
        level: cfg.logLevel,
        file: cfg.logFile,
        format: cfg.logFormat,
        maxFileMb: cfg.maxLogFileMb,
        base: { agent: `${cfg.localIp}:${cfg.httpPort}` },
      });
      // Ours before the launcher's: its default handler would exit without closing the agent.
      let closing = false;
      const shutdown = (sig: string, running: { close(): Promise<void> } | null) => {
        if (closing) return;
        closing = true;
        log.info({ signal: sig }, 'agent shutting down; instances keep running');
        void (running ? running.close() : Promise.resolve()).finally(() => {
          log.flush();
          process.exit(0);
        });
      };
      let running: { close(): Promise<void> } | null = null;
      process.once('SIGINT', () => shutdown('SIGINT', running));
      process.once('SIGTERM', () => shutdown('SIGTERM', running));
      log.info({ config: describeAgentConfig(cfg), file: cfg.configFile }, 'agent starting');
      const loose = looseConfigWarning(cfg.configFile, AGENT_KEYS, cfg.sources, cfg.values);
      for (const w of loose ? [loose, ...warnings] : warnings) log.warn({}, w);
      if (cfg.apiToken === '' && cfg.allowedClients.length === 0) {
        log.warn({ bind: cfg.httpHost }, 'agent is open to every local caller: no api_token_file and no allowed_clients (loopback only)');
      }
      try {
        running = await runAgent(cfg, log);
      } catch (e) {
        log.fatal({ err: e }, 'agent failed to start');
        console.error(`cluster-mgr agent: ${(e as Error).message.split('\n')[0]}`);
        log.flush();
        process.exit(1);
      }
    });
}
