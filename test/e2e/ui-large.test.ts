/**
 * The console on a large cluster (issue 19), in a real headless Chromium against a real server
 * whose store holds deployments of HOSTS hosts, seeded directly (each host's row as the rollout
 * controller writes it; the newest with failures): the history table and the cluster page read
 * summaries, never whole deployments; a deployment's machines are read a page at a time, with
 * "Show more" and a state filter; against a server that refuses summaries (a stand-in answering
 * as an older server does) the page reads whole deployments and shows the same.
 *
 * It also prints what one refresh of the cluster page reads (NOOPS_UI_LARGE_HOSTS=10000
 * NOOPS_UI_LARGE_DEPLOYMENTS=50 for the figures in docs/console.md).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { openStore } from '../../src/store/open.js';
import { cleanup, cli, freePort, startServer, tmp, until, type ServerProc } from './harness.js';
import { browserArgs, CHROMIUM } from './browser.js';
import { hostNames, seedDeployment } from './seed-deployment.js';

const TAG = 'cop.acme_owt.web_pdl.big_service.api_job.web_cluster.prod';
/** More hosts than a page holds (200) twice over, and not a multiple of it: the last page is short. */
const HOSTS = Number(process.env.NOOPS_UI_LARGE_HOSTS ?? 450);
const DEPLOYMENTS = Number(process.env.NOOPS_UI_LARGE_DEPLOYMENTS ?? 3);
/** Hosts of the newest deployment that failed (its first batch's first ones). */
const FAILED = 10;
/** The cluster page's history refresh (cluster.ts HISTORY_REFRESH_MS). */
const REFRESH_MS = 10_000;
const WAIT_MS = 60_000;
const AT = '2026-12-04T12:00:00.000Z';

const base = tmp('ui-large');
let server: ServerProc;
let browser: Browser | undefined;
let newest = 0;

before(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's (apt-get install -y chromium) or set NOOPS_CHROMIUM`);
  const dir = join(base, 'server');
  const port = await freePort();
  // the server makes its database and the cluster's node, then stops while the deployments are written
  server = await startServer(dir, port);
  const set = await cli(server, ['cluster', 'set', '-t', TAG, '--hosts', 'host-00000.rack0.example.com']);
  assert.equal(set.code, 0, set.stdout + set.stderr);
  await server.stop();
  const store = await openStore(`sqlite:${join(dir, 'noops.db')}`);
  for (let k = 0; k < DEPLOYMENTS; k++)
    newest = await seedDeployment(store, { tag: TAG, hosts: hostNames(HOSTS), failures: k === DEPLOYMENTS - 1 ? FAILED : 0, at: AT });
  await store.close();
  server = await startServer(dir, port);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: browserArgs() });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  cleanup([base]);
});

/** A signed-in page, with every API answer it reads counted (path and body bytes). */
async function open(hash: string, stub?: (p: Page) => Promise<void>): Promise<{ page: Page; reads: { path: string; bytes: number }[] }> {
  const ctx = await browser!.newContext({ viewport: { width: 1366, height: 860 } });
  ctx.setDefaultTimeout(WAIT_MS);
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const reads: { path: string; bytes: number }[] = [];
  page.on('response', (res) => {
    const url = new URL(res.url());
    if (!url.pathname.startsWith('/api/')) return;
    void res.body().then(
      (b) => reads.push({ path: url.pathname + url.search, bytes: b.byteLength }),
      () => undefined, // a stream still open (a live deployment's events)
    );
  });
  if (stub) await stub(page);
  await page.goto(`${server.url}/?token=${encodeURIComponent(server.adminToken)}${hash}`);
  return { page, reads };
}

/** The hosts' rows the open details show. */
const hostRows = (page: Page) => page.locator('tr.history-detail table.history-hosts tbody tr');

/** The machines column of each history row. */
const machines = (page: Page): Promise<string[]> =>
  page.locator('tr.history-row').evaluateAll((trs) => trs.map((t) => t.querySelectorAll('td.num')[1]?.textContent ?? ''));

/** Whole deployments: the history without a view, or one deployment (not its summary, hosts or events). */
const whole = (path: string): boolean =>
  (path.startsWith('/api/v1/history?') && !path.includes('view=summary')) || /^\/api\/v1\/deployments\/\d+(\?|$)/.test(path);

test('the cluster page reads summaries: every row with its machines, no whole deployment', async () => {
  const { page, reads } = await open(`#/n/${TAG}`);
  const rows = page.locator('tr.history-row');
  await until('the history rows', async () => (await rows.count()) === DEPLOYMENTS, WAIT_MS);
  assert.deepEqual(await machines(page), Array(DEPLOYMENTS).fill(String(HOSTS)));
  assert.match(await rows.first().innerText(), /failed/);

  // One refresh: what the page reads in a refresh period once it has settled.
  await until('the first history read', () => reads.some((r) => r.path.startsWith('/api/v1/history?')), WAIT_MS);
  const from = reads.length;
  await until('a refresh of the history', () => reads.slice(from).some((r) => r.path.startsWith('/api/v1/history?')), 3 * REFRESH_MS);
  await new Promise((r) => setTimeout(r, REFRESH_MS));
  const period = reads.slice(from);
  const history = period.filter((r) => r.path.startsWith('/api/v1/history?'));
  const perRefresh = period.reduce((n, r) => n + r.bytes, 0) / history.length;
  const res = await fetch(`${server.url}/api/v1/history?tag=${encodeURIComponent(TAG)}&limit=50`, {
    headers: { authorization: `Bearer ${server.adminToken}` },
  });
  const before = (await res.arrayBuffer()).byteLength;
  console.log(
    `# ${DEPLOYMENTS} deployments of ${HOSTS} hosts: a refresh of the cluster page reads ${Math.round(perRefresh)} bytes ` +
      `(the history: ${history.map((r) => r.bytes).join(', ')}); the whole history it read before: ${before} bytes`,
  );
  assert.ok(
    history.every((r) => r.path.includes('view=summary')),
    JSON.stringify(history),
  );
  assert.deepEqual(reads.map((r) => r.path).filter(whole), [], 'no whole deployment is read');
  assert.ok(
    perRefresh < before / DEPLOYMENTS,
    `a refresh (${perRefresh} bytes) reads less than one whole deployment (${before / DEPLOYMENTS})`,
  );

  // The details of the newest: its machines a page at a time, more on demand, filtered by state.
  await rows.first().getByRole('button', { name: 'show' }).click();
  const detail = page.locator('tr.history-detail').first();
  await until('the first page of hosts', async () => (await hostRows(page).count()) === 200, WAIT_MS);
  assert.match(await detail.innerText(), new RegExp(`200 of ${HOSTS} hosts shown`));
  assert.match(
    await hostRows(page).first().innerText(),
    /host-00000\.rack0\.example\.com\s+fedcba987\s+failed\s+exited 1 before it was healthy/,
  );
  await until('the page of hosts read', () => reads.find((r) => r.path.includes('/hosts?')), WAIT_MS);
  console.log(`# a page of hosts (200): ${reads.find((r) => r.path.includes('/hosts?'))!.bytes} bytes`);
  // every page, one after the other (the last one short)
  for (let shown = 200; shown < HOSTS; ) {
    const next = Math.min(200, HOSTS - shown);
    await detail.getByRole('button', { name: `Show ${next} more` }).click();
    shown += next;
    await until(`${shown} hosts`, async () => (await hostRows(page).count()) === shown, WAIT_MS);
  }
  assert.equal(await detail.locator('.hosts-more').count(), 0, 'nothing more to show');
  assert.equal(new Set(await hostRows(page).locator('td.mono:not(.muted)').allInnerTexts()).size, HOSTS, 'each host once');

  await detail.getByLabel('hosts in state').selectOption('failed');
  await until(
    'only the failed hosts',
    async () =>
      (await hostRows(page).evaluateAll((trs) => trs.map((t) => t.getAttribute('data-state')))).join() ===
      Array(FAILED).fill('failed').join(),
    WAIT_MS,
  );
  assert.deepEqual(reads.map((r) => r.path).filter(whole), [], 'no whole deployment is read');
  await page.context().close();
});

test("a deployment's own page: its summary, the first page of hosts, the rest on demand", async () => {
  const { page, reads } = await open(`#/d/${newest}`);
  const live = page.locator('.live[data-status="failed"]');
  await live.waitFor();
  await until('the first page of hosts', async () => (await page.locator('.live-hosts tbody tr').count()) === 200, WAIT_MS);
  assert.match(await live.innerText(), new RegExp(`200 of ${HOSTS} hosts shown`));
  await live.getByLabel('hosts in state').selectOption('failed');
  await until(
    'the failed hosts',
    async () => (await page.locator('.live-hosts tbody tr[data-state="failed"]').count()) === FAILED,
    WAIT_MS,
  );
  assert.equal(await page.locator('.live-hosts tbody tr').count(), FAILED);
  assert.deepEqual(reads.map((r) => r.path).filter(whole), [], 'no whole deployment is read');
  await page.context().close();
});

test('against a server that refuses summaries, the page reads whole deployments and shows the same', async () => {
  // Answers as a server older than the summaries: `view` is an unknown parameter, /summary and /hosts no route.
  const older = async (p: Page): Promise<void> => {
    await p.route(
      /\/api\/v1\/(history\?.*view=summary|deployments\/\d+\/(summary|hosts)|deployments\/\d+\/events\?view=summary)/,
      (route) => {
        const url = new URL(route.request().url());
        const view = url.searchParams.has('view');
        void route.fulfill({
          status: view ? 400 : 404,
          contentType: 'application/json',
          body: JSON.stringify(
            view
              ? { code: 'NOOPS_E_INPUT', message: 'unknown parameter "view"' }
              : { code: 'NOOPS_E_NOT_FOUND', message: `no route GET ${url.pathname}` },
          ),
        });
      },
    );
  };
  const { page, reads } = await open(`#/n/${TAG}`, older);
  const rows = page.locator('tr.history-row');
  await until('the history rows', async () => (await rows.count()) === DEPLOYMENTS, WAIT_MS);
  assert.deepEqual(await machines(page), Array(DEPLOYMENTS).fill(String(HOSTS)));
  await rows.first().getByRole('button', { name: 'show' }).click();
  await until('the first page of hosts', async () => (await hostRows(page).count()) === 200, WAIT_MS);
  const detail = page.locator('tr.history-detail').first();
  await detail.getByLabel('hosts in state').selectOption('failed');
  await until('only the failed hosts', async () => (await hostRows(page).count()) === FAILED, WAIT_MS);
  assert.ok(
    reads.some((r) => whole(r.path)),
    'whole deployments were read',
  );
  await page.context().close();
});
