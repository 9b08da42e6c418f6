// Issue 7, the web status page in headless Chromium (Debian's, driven by playwright-core) against a
// real playground (1 shard × 3 nodes rbr + 1 compute node): the page loads from a member with nothing
// from elsewhere, shows the demo cluster, its nodes with roles and health, the manager group with the
// leader, and the latest events from the live stream; its switchover button moves the primary; a
// kill -9 of the primary shows as a failover on the open page within seconds, without a reload.
// STATUS_PAGE_SCREENSHOT=<file> saves a screenshot (docs/status-page.png is made this way).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRunDir } from '../../src/launcher/index.js';
import { processesUnder } from '../../src/agent/procfs.js';
import { launchBrowser } from './browser.js';
import { PlaygroundRun, failoverLogLines } from '../playground/helpers.js';
import { setTimeout as sleep } from 'node:timers/promises';

const dir = makeRunDir('status-page-test');
const run = new PlaygroundRun(dir, ['--shards', '1', '--nodes', '3', '--comps', '1', '--base-port', '0']);
let closeBrowser: (() => Promise<void>) | null = null;
t.teardown(async () => {
  await closeBrowser?.();
  await run.cleanup();
});

/** Polls in Node (the page's CSP rightly forbids the string evaluation waitForFunction would use). */
async function poll(what: string, ms: number, f: () => Promise<boolean>, every = 250): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await sleep(every);
  }
}

interface View {
  clusters: { id: number; name: string }[];
  shards: { id: number; primary: number | null }[];
  nodes: { id: number; hostaddr: string; port: number }[];
}

t.test('status page: loads, shows the demo cluster, switches over, shows a failover live', async (t) => {
  run.start();
  const s = await run.ready(420_000);
  // The playground's admin token: the page gets it in its #token fragment, as an operator opens it.
  const token = readFileSync(join(dir, 'api-token'), 'utf8').trim();
  const auth = { authorization: `Bearer ${token}` };
  const view = (await (await fetch(`${s.firstUrl}/api/v1/view`, { headers: auth })).json()) as View;
  const cluster = view.clusters[0]!;
  const shard = view.shards[0]!;
  const addrOf = (id: number | null) => {
    const n = view.nodes.find((x) => x.id === id);
    return n ? `${n.hostaddr}:${n.port}` : null;
  };

  const b = await launchBrowser();
  closeBrowser = () => b.close();
  const page = await b.context.newPage();
  const foreign: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(`${s.firstUrl}/`) && !r.url().startsWith('data:')) foreign.push(r.url());
  });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => void d.accept());

  const resp = await page.goto(`${s.firstUrl}/status#token=${token}`);
  t.equal(resp?.status(), 200, 'GET /status answers 200');
  t.equal(await page.title(), 'cluster_mgr status');
  await page.waitForSelector(`.cluster[data-cluster-id="${cluster.id}"]`, { timeout: 15_000 });
  t.match(await page.textContent(`.cluster[data-cluster-id="${cluster.id}"] h3`), cluster.name, 'the demo cluster by name');
  t.equal(await page.locator('tr.node').count(), 3, 'its three storage nodes');
  t.equal(await page.locator('tr.node[data-role="primary"]').count(), 1, 'one primary');
  t.equal(await page.locator('tr.node[data-health="alive"]').count(), 3, 'all alive');
  t.equal(await page.getAttribute(`.shard[data-shard-id="${shard.id}"]`, 'data-primary'), addrOf(shard.primary), 'the primary the manager knows');
  t.equal(await page.locator('tr.comp').count(), 1, 'the compute node');
  t.equal(await page.locator('tr.manager').count(), 3, 'three managers');
  const leader = (await (await fetch(`${s.firstUrl}/api/v1/leader`, { headers: auth })).json()) as { leader: string };
  t.equal(await page.getAttribute('tr.manager[data-leader="true"]', 'data-member'), leader.leader, 'the leader is marked');
  await page.locator('#conn', { hasText: 'live' }).waitFor({ timeout: 15_000 });
  t.pass('updates come from the event stream');
  t.ok((await page.locator('.event').count()) > 0, 'latest events are listed');
  // Replicas show their lag from the leader's live probes (transactions behind the primary).
  await poll('the replicas\' lag on the page', 20_000, async () => {
    const lags = await page.locator('tr.node[data-role="replica"] td.lag').allTextContents();
    return lags.length === 2 && lags.every((l) => /^\d+ trx/.test(l));
  });
  t.pass('both replicas show their lag in transactions');

  // The switchover button on a replica.
  const replicaRow = page.locator('tr.node[data-role="replica"]').first();
  const targetId = await replicaRow.getAttribute('data-node-id');
  const target = addrOf(Number(targetId));
  await replicaRow.locator('button[data-switch]').click();
  await page.locator('#notice', { hasText: /manual_switch (accepted|failed)/ }).waitFor({ timeout: 15_000 });
  t.match(await page.textContent('#notice'), /manual_switch accepted: job \d+/, 'the page says the job was accepted');
  await page.waitForSelector(`.shard[data-primary="${target}"]`, { timeout: 90_000 });
  t.pass(`after the button, the page shows ${target} as the primary`);
  await page.waitForSelector(`tr.node[data-node-id="${targetId}"][data-role="primary"]`, { timeout: 10_000 });

  // kill -9 the primary: the open page shows the failover.
  await poll('three alive nodes on the page', 60_000, async () => (await page.locator('tr.node[data-health="alive"]').count()) === 3);
  // The playground's anti-flapping interval (failover_min_interval_ms, 5 s) counts the switchover.
  await sleep(8_000);
  const port = target!.split(':')[1]!;
  const pid = processesUnder(join(dir, 'agent', 'instances', 'storage', port), ['mariadbd'])[0];
  t.ok(pid, `the primary's mariadbd pid (${pid})`);
  const killedAt = Date.now();
  process.kill(pid!, 'SIGKILL');
  try {
    await poll('a new primary on the page', 60_000, async () => {
      const p = await page.getAttribute('.shard', 'data-primary');
      return p !== null && p !== '' && p !== target;
    }, 100);
  } catch (e) {
    // What the managers did, for the report.
    t.comment(failoverLogLines(dir));
    throw e;
  }
  const secs = (Date.now() - killedAt) / 1000;
  const now = await page.getAttribute('.shard', 'data-primary');
  t.comment(`the page showed the new primary ${now} ${secs.toFixed(1)} s after kill -9 of ${target}`);
  t.ok(secs < 30, `failover visible within seconds (${secs.toFixed(1)} s)`);
  t.ok((await page.locator('.event[data-type^="shard.failover"]').count()) > 0, 'failover events in the latest events');
  if (process.env.STATUS_PAGE_SCREENSHOT) await page.screenshot({ path: process.env.STATUS_PAGE_SCREENSHOT, fullPage: true });
  t.same(foreign, [], 'nothing loaded from anywhere but the member');
  t.same(errors, [], 'no script error on the page');
});
