// `cluster-mgr playground [--down]`: see playground.ts.
import { Option, type Command } from 'commander';
import { down, Playground } from './playground.js';
import { BLOCK_SIZE, DEFAULT_BASE_PORT, MAX_BASE_PORT } from './ports.js';
import { resolveDir } from './state.js';

interface Opts {
  dir?: string;
  down?: boolean;
  keep?: boolean;
  cluster: boolean;
  shards: string;
  nodes: string;
  comps: string;
  basePort?: string;
}

function count(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) {
    console.error(`cluster-mgr playground: --${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(v)})`);
    process.exit(2);
  }
  return n;
}

export function registerPlaygroundCommand(program: Command): void {
  program
    .command('playground')
    .description('run a whole control plane locally: NATS, a metadata shard, a node agent, 3 members and a demo cluster')
    .addOption(new Option('--dir <dir>', 'where everything lives (default <repository>/.playground, or $CLUSTER_MGR_PLAYGROUND_DIR)'))
    .option('--down', 'stop the playground running in --dir (from another shell) and leave nothing running')
    .option('--keep', 'keep the data when stopping; the next start resumes it')
    .option('--shards <n>', 'shards of the demo cluster', '2')
    .option('--nodes <n>', 'storage nodes per shard, primary included', '3')
    .option('--comps <n>', 'compute nodes of the demo cluster', '1')
    .option('--no-cluster', 'register the machine but create no demo cluster')
    .option('--base-port <port>', `first port of the playground's block of ${BLOCK_SIZE} (default ${DEFAULT_BASE_PORT}, or a block clear of this machine's ephemeral port range); 0 picks free ports`)
    .action(async (opts: Opts) => {
      const dir = resolveDir(opts.dir);
      if (opts.down) process.exit(await down(dir));
      const pg = new Playground({
        dir,
        shards: count('shards', opts.shards, 1, 16),
        nodes: count('nodes', opts.nodes, 1, 9),
        comps: count('comps', opts.comps, 1, 8),
        cluster: opts.cluster,
        keep: opts.keep === true,
        basePort: opts.basePort === undefined ? null : count('base-port', opts.basePort, 0, MAX_BASE_PORT),
      });
      let signalled = false;
      const onSignal = (sig: NodeJS.Signals) => {
        if (signalled) {
          // A second Ctrl-C: do not wait for graceful stops.
          process.exit(130);
        }
        signalled = true;
        pg.say(`${sig}: stopping`);
        void pg.stop().finally(() => process.exit(sig === 'SIGINT' ? 130 : 0));
      };
      // Installed before anything starts, so the launcher leaves the signals to us.
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      process.on('SIGHUP', onSignal);
      try {
        await pg.start();
      } catch (e) {
        if (signalled) return;
        console.error(`cluster-mgr playground: ${(e as Error).message}`);
        await pg.stop();
        process.exit(1);
      }
    });
}
