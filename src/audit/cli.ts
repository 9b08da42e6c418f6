// `cluster-mgr replay` and `cluster-mgr watch`.
import { natsCredentials } from '../config/member-secrets.js';
import { natsAuthOptions, natsCredentialsFromFlags, type NatsCredentialFlags, type NatsCredentials } from '../mirror/nats-auth.js';
import { Command, Option } from 'commander';
import { connect, StringCodec } from 'nats';
import { loadConfig } from '../config/load.js';
import { findApiToken } from '../config/api-tokens.js';
import { decodeEvent } from '../events/index.js';
import { DEFAULT_PREFIX, H } from '../mirror/subjects.js';
import { formatRecord, matches, rebuild, verify, type TimelineFilter } from './replay.js';
import { readDataDir, readStream, type ReplayInput } from './sources.js';
import { setTimeout as sleep } from 'node:timers/promises';

interface ReplayOpts extends NatsCredentialFlags {
  config?: string;
  tokenFile?: string;
  nats?: string;
  stream?: string;
  dataDir?: string;
  agg?: string;
  type?: string;
  fromIndex?: string;
  toIndex?: string;
  since?: string;
  until?: string;
  json?: boolean;
  verify?: boolean;
  stateAt?: string;
  compare?: string;
  wait?: string;
  timeline?: boolean;
}

/** What a live member says of itself (GET /api/v1/member), as far as --compare needs it. */
interface MemberInfo {
  member: string;
  applied: number;
  view_digest: string;
  mirror: { mirroredIndex: number } | null;
}

const int = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new Error(`${name} must be a whole number, got ${JSON.stringify(v)}`);
  return v;
};

/**
 * Credentials replay and watch use when given none (cli/main.ts passes the local playground's read-only
 * account, so the commands it prints work as pasted); set once at registration.
 */
let localCredentials: () => NatsCredentials | null = () => null;

/** `defaultTokenFile`: where replay --compare looks for an API token last (the playground's). */
export function registerAuditCommands(
  program: Command,
  o: { defaultTokenFile?: string; localCredentials?: () => NatsCredentials | null } = {},
): void {
  if (o.localCredentials) localCredentials = o.localCredentials;
  const defaultTokenFile = o.defaultTokenFile;
  program
    .command('replay')
    .description('audit the event log: timeline, hash-chain check, state at any index or time, comparison with a live member')
    .option('-c, --config <file>', 'take nats_url and nats_stream from this configuration')
    .option('--nats <url>', 'read the JetStream mirror at this NATS URL')
    .option('--stream <name>', 'stream name (default: nats_stream, KUNLUN_EVENTS)')
    .option('--data-dir <dir>', "read a stopped member's Raft log instead")
    .option('--nats-user <name>', 'NATS user (password from --nats-password-file or CLUSTER_MGR_NATS_PASSWORD)')
    .option('--nats-password-file <file>', 'file holding the NATS password')
    .option('--nats-creds <file>', 'NATS .creds or nkey seed file')
    .option('--agg <id>', 'only this aggregate (e.g. shard/7) or kind (e.g. shard)')
    .option('--type <type>', 'only this event type; a trailing * matches a prefix (shard.failover_*)')
    .addOption(new Option('--from-index <n>', 'from this log index').argParser(int('--from-index')))
    .addOption(new Option('--to-index <n>', 'up to this log index').argParser(int('--to-index')))
    .option('--since <time>', 'from this time (ISO 8601)')
    .option('--until <time>', 'up to this time (ISO 8601)')
    .option('--json', 'print JSON lines instead of a table')
    .option('--no-timeline', 'do not print the timeline')
    .option('--verify', 'recompute the hash chain and report the first broken link')
    .option('--state-at <index|time>', 'rebuild the state at a log index or an ISO time and print it')
    .option('--compare <url>', "compare the rebuilt state with a live member's (http://host:port)")
    .option('--token-file <file>', 'API token for --compare (default: $CLUSTER_MGR_API_TOKEN, the playground\'s api-token, --config\'s token)')
    .addOption(new Option('--wait <ms>', "how long --compare waits for the mirror to hold the member's applied index").default('15000').argParser(int('--wait')))
    .action(async (o: ReplayOpts) => {
      process.exitCode = await replayCommand(o, defaultTokenFile);
    });

  program
    .command('watch')
    .description('follow events and status live from NATS')
    .option('-c, --config <file>', 'take nats_url from this configuration')
    .option('--nats <url>', 'NATS URL')
    .option('--subject <pattern>', 'what to follow', `${DEFAULT_PREFIX}.>`)
    .option('--nats-user <name>', 'NATS user (password from --nats-password-file or CLUSTER_MGR_NATS_PASSWORD)')
    .option('--nats-password-file <file>', 'file holding the NATS password')
    .option('--nats-creds <file>', 'NATS .creds or nkey seed file')
    .action(async (o: NatsCredentialFlags & { config?: string; nats?: string; subject: string }) => {
      const fromCfg = o.nats && (o.natsUser || o.natsCreds || process.env.CLUSTER_MGR_NATS_USER) ? null : natsFromConfig(o.config);
      const url = o.nats ?? fromCfg!.url;
      const credentials = natsCredentialsFromFlags(o, process.env, defaultCredentials(fromCfg?.credentials));
      const nc = await connect({ ...natsAuthOptions(credentials), servers: url, name: 'cluster-mgr-watch' });
      const sc = StringCodec();
      console.error(`following ${o.subject} at ${url} (Ctrl-C to stop)`);
      process.once('SIGINT', () => void nc.close());
      for await (const m of nc.subscribe(o.subject)) {
        const type = m.headers?.get(H.type);
        if (type && type !== 'mirror.gap') {
          const e = decodeEvent(m.data);
          console.log(`${new Date(e.at).toISOString()}  ${m.headers?.get(H.index)}  ${e.agg.padEnd(20)} ${e.type.padEnd(28)} ${JSON.stringify(e.data)}`);
        } else {
          console.log(`${new Date().toISOString()}  ${m.subject}  ${sc.decode(m.data)}`);
        }
      }
    });
}

/** The configuration's credentials, else the local ones (the playground's read-only account), else none. */
function defaultCredentials(fromConfig: NatsCredentials | undefined): NatsCredentials {
  if (fromConfig && fromConfig.kind !== 'none') return fromConfig;
  return localCredentials() ?? { kind: 'none' };
}

function natsFromConfig(file?: string): { url: string; stream: string; credentials: NatsCredentials } {
  const cfg = loadConfig({ file: file ?? null, env: process.env });
  return { url: cfg.str('nats_url'), stream: cfg.str('nats_stream'), credentials: natsCredentials(cfg) };
}

function time(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new Error(`${name}: ${JSON.stringify(v)} is not an ISO 8601 time`);
  return t;
}

async function memberInfo(url: string, token: string | null): Promise<MemberInfo> {
  try {
    const headers: Record<string, string> = token !== null ? { authorization: `Bearer ${token}` } : {};
    const r = await fetch(`${url.replace(/\/$/, '')}/api/v1/member`, { headers, signal: AbortSignal.timeout(5_000) });
    if (!r.ok) throw new Error(`HTTP ${r.status}${r.status === 401 ? ' (the member needs an API token: CLUSTER_MGR_API_TOKEN or --token-file)' : ''}`);
    return (await r.json()) as MemberInfo;
  } catch (e) {
    throw new Error(`cannot reach ${url}: ${(e as Error).message}`, { cause: e });
  }
}

function lastIndex(input: ReplayInput): number {
  return input.records.at(-1)?.index ?? 0;
}

/** The mirror holds everything the member had applied: an event at or past its index, or the
 *  member (as leader) reports it published that far. */
function covers(input: ReplayInput, m: MemberInfo): boolean {
  return lastIndex(input) >= m.applied || (m.mirror?.mirroredIndex ?? 0) >= m.applied;
}

async function load(o: ReplayOpts): Promise<ReplayInput> {
  if (o.dataDir) return readDataDir(o.dataDir);
  const flagsOnly = o.nats && o.stream && (o.natsUser || o.natsCreds || process.env.CLUSTER_MGR_NATS_USER);
  const fromCfg = flagsOnly ? null : natsFromConfig(o.config);
  const url = o.nats ?? fromCfg!.url;
  if (!url) throw new Error('no NATS URL: give --nats, --config with nats_url, or --data-dir');
  const credentials = natsCredentialsFromFlags(o, process.env, defaultCredentials(fromCfg?.credentials));
  return readStream(url, o.stream ?? fromCfg?.stream ?? 'KUNLUN_EVENTS', { credentials });
}

export async function replayCommand(o: ReplayOpts, defaultTokenFile?: string): Promise<number> {
  // The member is asked first and its answer is kept: the mirror is then read until it holds what
  // the member had applied (it publishes a moment after the apply), so both sides describe the same index.
  let member: MemberInfo | null = null;
  let input: ReplayInput;
  try {
    if (o.compare) member = await memberInfo(o.compare, findApiToken({ ...(defaultTokenFile !== undefined ? { defaultFile: defaultTokenFile } : {}), ...(o.tokenFile !== undefined ? { tokenFile: o.tokenFile } : {}), ...(o.config !== undefined ? { configFile: o.config } : {}) }));
    input = await load(o);
    const waitMs = Number(o.wait ?? 15_000);
    const t0 = Date.now();
    while (member && !o.dataDir && !covers(input, member) && Date.now() - t0 < waitMs) {
      await sleep(250);
      input = await load(o);
    }
  } catch (e) {
    console.error(`cluster-mgr replay: ${(e as Error).message}`);
    return 2;
  }
  const out = (s: string) => console.log(s);
  const f: TimelineFilter = {
    agg: o.agg,
    type: o.type,
    fromIndex: o.fromIndex ? Number(o.fromIndex) : undefined,
    toIndex: o.toIndex ? Number(o.toIndex) : undefined,
    since: time(o.since, '--since'),
    until: time(o.until, '--until'),
  };
  let code = 0;
  if (o.timeline !== false) {
    const shown = input.records.filter((r) => matches(r, f));
    if (!o.json) out(`# ${input.describe}: ${input.records.length} events, ${shown.length} shown`);
    for (const r of shown) {
      out(o.json ? JSON.stringify({ index: r.index, pos: r.pos, seq: r.seq, hash: r.hash, ...r.event }) : formatRecord(r));
    }
  }
  for (const g of input.gaps) out(`# GAP in the mirror: log indexes ${g.from}..${g.to} are missing`);
  if (o.verify) {
    const c = verify(input);
    if (c.ok) out(o.json ? JSON.stringify({ verify: 'ok', events: c.count, head: c.head }) : `chain ok: ${c.count} links verified, head ${c.head}`);
    else {
      const at = input.records.find((r) => r.seq === c.seq);
      out(o.json ? JSON.stringify({ verify: 'broken', seq: c.seq, index: at?.index, reason: c.reason }) : `chain BROKEN at seq ${c.seq} (log index ${at?.index ?? '?'}): ${c.reason}`);
      code = 3;
    }
  }
  if (o.stateAt !== undefined || o.compare) {
    let upTo: { index?: number; time?: number } = {};
    if (o.stateAt !== undefined) upTo = /^\d+$/.test(o.stateAt) ? { index: Number(o.stateAt) } : { time: time(o.stateAt, '--state-at') };
    if (member) upTo = { index: member.applied };
    const b = rebuild(input, upTo);
    const v = b.world.view();
    const summary = {
      index: b.index, events: b.events, view_digest: b.digest, machines: v.machines.length, clusters: v.clusters.length,
      shards: v.shards.length, nodes: v.nodes.length, comps: v.comps.length, jobs: v.jobs.length, managers: v.managers.length,
      leader: v.leader, refused: b.refused,
    };
    if (o.stateAt !== undefined) out(o.json ? JSON.stringify({ state: v }) : JSON.stringify(v, null, 2));
    out(o.json ? JSON.stringify({ rebuilt: summary }) : `rebuilt state at index ${b.index}: ${JSON.stringify(summary)}`);
    if (member) {
      // The replay stops at the member's last event; entries after it that carry no event (a new
      // leader's no-op) move the member's index but not its state, so the states are what is compared.
      const same = member.view_digest === b.digest;
      const behind = covers(input, member) ? '' : `; the mirror holds events up to index ${lastIndex(input)} only: it is behind the member`;
      out(
        o.json
          ? JSON.stringify({ compare: same ? 'match' : 'differ', member: member.member, member_index: member.applied, member_digest: member.view_digest, replay_index: b.index, replay_digest: b.digest, mirror_behind: behind !== '' })
          : `compare with ${member.member}: ${same ? 'MATCH' : 'DIFFER'} (member index ${member.applied} digest ${member.view_digest}; replay index ${b.index} digest ${b.digest}${behind})`,
      );
      if (!same) code = code || 4;
    }
  }
  return code;
}
