/**
 * The console draws who depends on whom (issue 16), in a real headless Chromium against a real
 * server and agent: two jobs deployed, `cart` declaring `depends_on: [cop=acme,service=pay]` in its
 * noops.yaml, and a naming lookup made from the host they run on. A node's page draws the node in
 * the middle, its callers on the left and what it uses on the right, the edge marked declared +
 * observed; a box opens the other node's page, which draws the same edge from its side. The
 * screenshots go to test-artifacts/ui/deps.png and deps-used-by.png.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ApiClient, resolveNames, type DepsView } from '../../src/api/index.js';
import {
  cleanup,
  cli,
  cliJson,
  freePort,
  killSupervised,
  makeAppRepo,
  ROOT,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
} from './harness.js';
import { browserArgs, CHROMIUM } from './browser.js';

const PAY_JOB = 'cop.acme_owt.web_pdl.shop_service.pay_job.api';
const CART_JOB = 'cop.acme_owt.web_pdl.shop_service.cart_job.web';
const PAY_SERVICE = 'cop.acme_owt.web_pdl.shop_service.pay';
const PAY = 'cop=acme,service=pay';
const SHOTS = join(ROOT, 'test-artifacts', 'ui');
const WAIT_MS = 60_000;

const base = tmp('ui-deps');
const root = join(base, 'agent-d1');
let server: ServerProc;
let agent: Proc;
let browser: Browser | undefined;
let page: Page;
const pageErrors: string[] = [];

/** Builds a job from its own repository and deploys it to a cluster on d1. */
async function deployJob(job: string, name: string, files: Record<string, string> = {}): Promise<void> {
  const version = makeAppRepo(join(base, name)).commit(name, files).slice(0, 9);
  for (const args of [
    ['build', '-u', join(base, name), '-t', job, '-v', version],
    ['cluster', 'set', '-t', `${job}_cluster.dev`, '--hosts', 'd1'],
    ['deploy', '-t', `${job}_cluster.dev`, '-v', version],
  ]) {
    const r = await cli(server, args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
  }
}

before(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's (apt-get install -y chromium) or set NOOPS_CHROMIUM`);
  }
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer(join(base, 'server'), await freePort());
  agent = startAgent(server, root, 'd1');
  await until('d1 up', async () => (await cliJson<{ status: string }[]>(server, ['hosts'])).some((h) => h.status === 'up'), WAIT_MS);
  await deployJob(PAY_JOB, 'pay');
  await deployJob(CART_JOB, 'cart', { 'noops.yaml': `depends_on:\n  - ${PAY}\n` });
  // A lookup from d1's address (the jobs running there asked for pay): the edge is observed too.
  const api = new ApiClient(server.url, server.adminToken);
  await until('pay healthy in naming', async () => (await resolveNames(api, PAY)).endpoints.length === 1, WAIT_MS);
  const deps = await cliJson<DepsView>(server, ['deps', '-t', CART_JOB]);
  assert.deepEqual(
    deps.uses.filter((e) => e.to === PAY).map((e) => [e.from, e.declared, e.observed]),
    [[CART_JOB, true, true]],
  );

  browser = await chromium.launch({ executablePath: CHROMIUM, args: browserArgs() });
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  ctx.setDefaultTimeout(WAIT_MS);
  page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`${page.url()}: ${m.text()}`);
  });
  await page.goto(`${server.url}/?token=${encodeURIComponent(server.adminToken)}#/`);
  await page.locator('.tree-row').first().waitFor();
});

after(async () => {
  await browser?.close();
  await agent?.stop();
  await server?.stop();
  killSupervised(root);
  cleanup([base]);
});

/** The drawing's boxes and edges, as the page has them. */
async function drawing(): Promise<{ center: string | null; boxes: string[][]; edges: string[][] }> {
  const svg = page.locator('#deps svg.deps-graph');
  await svg.waitFor();
  return {
    center: await svg.locator('.deps-center').getAttribute('data-tag'),
    boxes: await svg
      .locator('a.deps-node')
      .evaluateAll((els) =>
        els.map((a) => [a.getAttribute('data-side') ?? '', a.getAttribute('data-id') ?? '', a.querySelector('text')?.textContent ?? '']),
      ),
    edges: await svg
      .locator('g.deps-edge')
      .evaluateAll((els) =>
        els.map((g) => [
          g.getAttribute('data-side') ?? '',
          g.getAttribute('data-peer') ?? '',
          g.getAttribute('data-kind') ?? '',
          g.querySelector('text')?.textContent ?? '',
        ]),
      ),
  };
}

test("a job's page draws what it uses: pay on the right, the edge declared and observed", async () => {
  await page.goto(`${server.url}/#/n/${CART_JOB}`);
  const d = await drawing();
  assert.equal(d.center, CART_JOB);
  const pay = d.boxes.find(([side, id]) => side === 'uses' && id === PAY);
  assert.deepEqual(pay, ['uses', PAY, PAY], JSON.stringify(d.boxes));
  const edge = d.edges.find(([side, peer]) => side === 'uses' && peer === PAY);
  assert.ok(edge, JSON.stringify(d.edges));
  assert.equal(edge[2], 'both');
  assert.equal(edge[3], 'declared + observed');
  assert.equal(await page.locator('#deps .deps-center text').textContent(), 'service.cart_job.web', 'the node in the middle, by name');
  const row = page.locator(`#deps .deps-table tr[data-from="${CART_JOB}"][data-to="${PAY}"]`);
  assert.equal(await row.getAttribute('data-kind'), 'both');
  await page.locator('#deps').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(SHOTS, 'deps.png') });
});

test("a box opens the other node's page, which draws the same edge from its side", async () => {
  await page.locator(`#deps a.deps-node[data-id="${PAY}"]`).click();
  await page.waitForURL((u) => u.hash === `#/n/${encodeURIComponent('cop.acme_service.pay')}`);
  await page.locator('.page-head h1', { hasText: 'pay' }).waitFor();
  assert.equal(await page.locator('.tag-full').innerText(), PAY_SERVICE, 'the selector opened the one node it names');
  const d = await drawing();
  assert.equal(d.center, PAY_SERVICE);
  const cart = d.edges.find(([side, peer]) => side === 'used-by' && peer === CART_JOB);
  assert.ok(cart, JSON.stringify(d.edges));
  assert.equal(cart[2], 'both');
  assert.ok(
    d.boxes.some(([side, id, label]) => side === 'used-by' && id === CART_JOB && label === 'service.cart_job.web'),
    JSON.stringify(d.boxes),
  );
  assert.equal(await page.locator(`#deps .deps-table tr[data-from="${CART_JOB}"][data-to="${PAY}"]`).getAttribute('data-kind'), 'both');
  // pay's own lookup (its host asked for pay) is in both lists, but one row of the table
  assert.ok((await page.locator(`#deps .deps-table tr[data-from="${PAY_JOB}"][data-to="${PAY}"]`).count()) <= 1);
  await page.locator('#deps').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(SHOTS, 'deps-used-by.png') });
  // and back: the caller's box opens the caller's page
  await page.locator(`#deps a.deps-node[data-id="${CART_JOB}"]`).click();
  await page.waitForURL((u) => u.hash === `#/n/${encodeURIComponent(CART_JOB)}`);
  // the address moves first; pay's drawing stays until the caller's page has read its edges
  await page.locator(`#deps svg.deps-graph .deps-center[data-tag="${CART_JOB}"]`).waitFor();
  assert.equal((await drawing()).center, CART_JOB);
});

test('no page raised an error', () => {
  assert.deepEqual(pageErrors, []);
});
