// The `cluster-mgr` command.
import { Command, Option } from 'commander';
import { registerAgentCommand } from '../agent/cli.js';
import { registerAuditCommands } from '../audit/cli.js';
import { registerPlaygroundCommand } from '../playground/cli.js';
import { PLAYGROUND_TOKEN_FILE, readState, resolveDir } from '../playground/state.js';
import { join } from 'node:path';
import { playgroundWatcher } from '../playground/secrets.js';
import { registerStatusCommand } from './status.js';
import { ConfigError, describeConfig, loadConfig } from '../config/load.js';
import { createLogger } from '../log/logger.js';
import { startMember } from '../member/member.js';
import { VERSION } from '../version.js';

const program = new Command();
program
  .name('cluster-mgr')
  .description('cluster_mgr: the control plane of KunlunBase (provisioning, shard high availability, XA resolution)')
  .version(VERSION);

const configOption = () => new Option('-c, --config <file>', 'configuration file (cluster_mgr.cnf format)');
const setOption = () =>
  new Option('-s, --set <key=value>', 'override one configuration key (repeatable)').argParser(
    (v: string, prev: string[] = []) => [...prev, v],
  );

program
  .command('start')
  .description('run a cluster_mgr member')
  .addOption(configOption())
  .addOption(setOption())
  .action(async (opts: { config?: string; set?: string[] }) => {
    const cfg = loadOrExit(opts);
    const log = createLogger({
      level: cfg.str('log_level'),
      file: cfg.logFile,
      format: cfg.str('log_format') as 'auto' | 'json' | 'pretty',
      maxFileMb: cfg.int('max_log_file_size'),
      base: { member: cfg.selfId },
    });
    let member;
    try {
      member = await startMember(cfg, log);
    } catch (e) {
      log.fatal({ err: e }, 'cluster_mgr member failed to start');
      console.error(`cluster-mgr: ${(e as Error).message}`);
      log.flush();
      process.exit(1);
    }
    const shutdown = (sig: string) => {
      log.info({ signal: sig }, 'shutting down');
      void member.stop().finally(() => {
        log.flush();
        process.exit(0);
      });
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  });

program
  .command('config')
  .description('check a configuration file and print the effective values (secrets hidden)')
  .addOption(configOption())
  .addOption(setOption())
  .option('--json', 'print JSON')
  .action((opts: { config?: string; set?: string[]; json?: boolean }) => {
    const cfg = loadOrExit(opts);
    const eff = describeConfig(cfg);
    if (opts.json) {
      console.log(JSON.stringify({ values: eff, sources: cfg.sources }, null, 2));
      return;
    }
    const width = Math.max(...Object.keys(eff).map((k) => k.length));
    for (const [k, v] of Object.entries(eff)) {
      console.log(`${k.padEnd(width)}  ${String(v) === '' ? '""' : String(v)}   (${cfg.sources[k]})`);
    }
  });

function loadOrExit(opts: { config?: string; set?: string[] }) {
  try {
    return loadConfig({ file: opts.config ?? null, env: process.env, sets: opts.set ?? [] });
  } catch (e) {
    if (e instanceof ConfigError) {
      // One line, so it stands out in a service manager's journal.
      console.error(`cluster-mgr: config error: ${e.message.replace(/\n/g, ' ')}`);
      process.exit(2);
    }
    throw e;
  }
}

registerAgentCommand(program);
// Clients without a token of their own use the playground's; replay and watch its read-only NATS account.
const playgroundToken = join(resolveDir(undefined), PLAYGROUND_TOKEN_FILE);
registerAuditCommands(program, { defaultTokenFile: playgroundToken, localCredentials: () => playgroundWatcher(resolveDir(undefined)) });
registerPlaygroundCommand(program);
// Without --url, status asks the playground's members (its state file) before the default address.
registerStatusCommand(program, () => readState(resolveDir(undefined))?.members.map((m) => m.url) ?? [], playgroundToken);

await program.parseAsync(process.argv);
