// `cluster-mgr status [--url U] [--watch]`: clusters, shards, storage nodes (role, health, access,
// replication lag from the leader's latest probe), compute nodes, recent jobs and the manager members
// with the leader marked — from /api/v1/view, /api/v1/leader and /api/v1/live of any member. When the
// member asked is down, the other members (the default members main.ts passes in — the playground's —
// or the view's manager list) are tried in turn.
import { Option, type Command } from 'commander';
import { getJson, type LeaderAnswer } from '../http/client.js';
import { findApiToken } from '../config/api-tokens.js';
import type { LiveProbes } from '../shard-ha/live.js';
import { setTimeout as sleep } from 'node:timers/promises';

export const DEFAULT_STATUS_URL = 'http://127.0.0.1:58000';

interface Evidence {
  summary?: string;
  facts?: Record<string, unknown>;
}

/** Replication lag of a replica from the leader's live probes ("-" for a primary or when unknown). */
export function lagOf(n: StatusView['nodes'][number], primary: number | null, live: LiveProbes | null): string {
  if (n.id === primary) return '-';
  return live?.nodes.find((l) => l.node === n.id)?.lag ?? '-';
}

export interface StatusView {
  applied: number;
  clusters: { id: number; name: string; nickName: string; haMode: string; status: string; shards: number[]; comps: number[] }[];
  shards: { id: number; cluster: number; name: string; status: string; ha: string; primary: number | null; nodes: number[]; needsRebuild?: number[] }[];
  nodes: {
    id: number;
    cluster: number;
    shard: number;
    hostaddr: string;
    port: number;
    status: string;
    memberState: string;
    access: string;
    health: string;
    repair?: string;
    source: number | null;
    evidence: Evidence | null;
  }[];
  comps: { id: number; cluster: number; name: string; hostaddr: string; port: number; status: string }[];
  jobs: { id: number | string; jobType: string; status: string; step?: { name: string; index: number; total: number } | null }[];
  managers: { id: string; host: string; raftPort: number; httpPort: number; memberState: string; electedTerm: number | null }[];
}

function table(rows: string[][]): string[] {
  const w: number[] = [];
  for (const r of rows) r.forEach((c, i) => (w[i] = Math.max(w[i] ?? 0, c.length)));
  return rows.map((r) => `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ')}`.trimEnd());
}

/** The status text for one view. */
export function renderStatus(v: StatusView, leader: LeaderAnswer | null, from: string, now = new Date(), live: LiveProbes | null = null): string {
  const out: string[] = [];
  const leaderId = leader?.leader ?? null;
  out.push(`cluster_mgr status — ${from} — ${now.toISOString().replace(/\.\d+Z$/, 'Z')} — term ${leader?.term ?? '?'}, applied ${v.applied}`);
  out.push('');
  out.push('MANAGERS');
  out.push(
    ...table([
      ['MEMBER', 'HTTP', 'ROLE'],
      ...v.managers.map((m) => [m.id, `http://${m.host}:${m.httpPort}`, m.id === leaderId ? 'leader *' : 'follower']),
    ]),
  );
  if (leaderId === null) out.push('  (no leader known)');
  out.push('');
  out.push('CLUSTERS');
  if (v.clusters.length === 0) out.push('  (none)');
  else {
    out.push(
      ...table([
        ['ID', 'NAME', 'NICK', 'HA', 'STATUS', 'SHARDS', 'COMPS'],
        ...v.clusters.map((c) => [String(c.id), c.name, c.nickName || '-', c.haMode, c.status, String(c.shards.length), String(c.comps.length)]),
      ]),
    );
  }
  if (v.shards.length > 0) {
    out.push('');
    out.push('SHARDS AND STORAGE NODES');
    const rows: string[][] = [['CLUSTER', 'SHARD', 'NODE', 'ADDRESS', 'ROLE', 'HEALTH', 'ACCESS', 'LAG', 'STATUS', 'NOTE']];
    for (const s of [...v.shards].sort((a, b) => a.cluster - b.cluster || a.id - b.id)) {
      const nodes = v.nodes.filter((n) => n.shard === s.id).sort((a, b) => (a.id === s.primary ? -1 : b.id === s.primary ? 1 : a.id - b.id));
      const shardNote = s.ha !== 'normal' ? s.ha : s.primary === null ? 'no primary' : '';
      for (const [i, n] of nodes.entries()) {
        const role = n.id === s.primary ? 'primary' : n.memberState === 'source' ? 'source?' : 'replica';
        const notes = [i === 0 ? shardNote : '', n.repair && n.repair !== 'ok' ? n.repair : ''].filter(Boolean).join(', ');
        rows.push([
          i === 0 ? String(s.cluster) : '',
          i === 0 ? `${s.id} ${s.name}` : '',
          String(n.id),
          `${n.hostaddr}:${n.port}`,
          role,
          n.health,
          n.access,
          lagOf(n, s.primary, live),
          n.status,
          notes,
        ]);
      }
      if (nodes.length === 0) rows.push([String(s.cluster), `${s.id} ${s.name}`, '-', '-', '-', '-', '-', '-', s.status, 'no nodes']);
    }
    out.push(...table(rows));
  }
  if (v.comps.length > 0) {
    out.push('');
    out.push('COMPUTE NODES');
    out.push(...table([['CLUSTER', 'COMP', 'NAME', 'ADDRESS', 'STATUS'], ...v.comps.map((c) => [String(c.cluster), String(c.id), c.name, `${c.hostaddr}:${c.port}`, c.status])]));
  }
  const jobs = [...v.jobs].sort((a, b) => Number(b.id) - Number(a.id)).slice(0, 5);
  if (jobs.length > 0) {
    out.push('');
    out.push('RECENT JOBS');
    out.push(
      ...table([
        ['JOB', 'TYPE', 'STATUS', 'STEP'],
        ...jobs.map((j) => [String(j.id), j.jobType, j.status, j.step ? `${j.step.index + 1}/${j.step.total} ${j.step.name}` : '-']),
      ]),
    );
  }
  return out.join('\n');
}

/** Candidate member URLs: --url, then the default members (the playground's), then the default URL. */
export function candidateUrls(url: string | undefined, defaults: readonly string[]): string[] {
  if (url) return [url.replace(/\/+$/, '')];
  return defaults.length > 0 ? [...defaults] : [DEFAULT_STATUS_URL];
}

export interface Fetched {
  view: StatusView;
  leader: LeaderAnswer | null;
  /** The leader's latest probes (null when no leader answered them: lag shows "-"). */
  live: LiveProbes | null;
  from: string;
}

/** The view from the first member that answers; learns the other members from it. */
export async function fetchStatus(urls: string[], token: string | null): Promise<Fetched> {
  const errors: string[] = [];
  for (const u of urls) {
    try {
      const view = await getJson<StatusView>(`${u}/api/v1/view`, { token });
      const leader = await getJson<LeaderAnswer>(`${u}/api/v1/leader`, { token }, true).catch(() => null);
      const live = await getJson<LiveProbes>(`${u}/api/v1/live`, { token }).catch(() => null);
      for (const m of view.managers) {
        const mu = `http://${m.host}:${m.httpPort}`;
        if (!urls.includes(mu)) urls.push(mu);
      }
      return { view, leader, live, from: u };
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  throw new Error(`no member answered: ${errors.join('; ')}`);
}

/** `defaultMembers`: member URLs to try when --url is not given (main.ts passes the playground's). */
export function registerStatusCommand(program: Command, defaultMembers: () => readonly string[] = () => [], defaultTokenFile?: string): void {
  program
    .command('status')
    .description('clusters, shards, nodes (role, health, lag) and the manager members, leader marked')
    .addOption(new Option('--url <url>', `a member's HTTP address (default: the playground's members, else ${DEFAULT_STATUS_URL})`))
    .option('-w, --watch', 'refresh until interrupted')
    .option('--interval <ms>', 'refresh period with --watch', '1000')
    .option('--token-file <file>', 'file holding the API token (default: $CLUSTER_MGR_API_TOKEN, the playground\'s api-token, --config\'s token)')
    .option('-c, --config <file>', 'take the API token from this configuration (api_token or api_tokens_file)')
    .option('--json', 'print the view, the leader and the live probes as JSON')
    .action(async (opts: { url?: string; watch?: boolean; interval: string; tokenFile?: string; config?: string; json?: boolean }) => {
      const urls = candidateUrls(opts.url, opts.url ? [] : defaultMembers());
      const token = findApiToken({ ...(defaultTokenFile !== undefined ? { defaultFile: defaultTokenFile } : {}), ...(opts.tokenFile !== undefined ? { tokenFile: opts.tokenFile } : {}), ...(opts.config !== undefined ? { configFile: opts.config } : {}) });
      const once = async (): Promise<string> => {
        const f = await fetchStatus(urls, token);
        return opts.json ? JSON.stringify({ from: f.from, leader: f.leader, view: f.view, live: f.live }) : renderStatus(f.view, f.leader, f.from, new Date(), f.live);
      };
      if (!opts.watch) {
        try {
          console.log(await once());
        } catch (e) {
          console.error(`cluster-mgr status: ${(e as Error).message}`);
          process.exit(1);
        }
        return;
      }
      const period = Math.max(200, Number(opts.interval) || 1000);
      process.once('SIGINT', () => process.exit(0));
      for (;;) {
        let text: string;
        try {
          text = await once();
        } catch (e) {
          text = `cluster-mgr status: ${(e as Error).message} (retrying)`;
        }
        process.stdout.write(`${process.stdout.isTTY ? '\x1b[2J\x1b[H' : '\n'}${text}\n`);
        await sleep(period);
      }
    });
}
