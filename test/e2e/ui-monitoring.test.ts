/**
 * The console's monitoring pages in a real headless Chromium against a real server: points
 * pushed with Open-Falcon's `POST /api/v1/push`, strategies added with the CLI, an alarm raised by
 * the server's judge; then the metrics page draws the chart (uPlot's canvas has the line's
 * pixels), a drag zooms it (the range and the address change) and a double-click goes back, the
 * alarm is marked on it, a host's base metrics and each instance's common.servicerunning chart at
 * a click, a node lists the strategies that apply there (inherited ones marked), and the alarms
 * page lists the alarm and acknowledges it. Screenshots go to test-artifacts/ui/.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { cleanup, cli, freePort, ROOT, startServer, tmp, until as untilDeadline, type ServerProc } from './harness.js';
import { browserArgs, CHROMIUM } from './browser.js';

const CLUSTER = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';
const JOB = 'cop.acme_owt.web_pdl.shop_service.api_job.web';
const HIGH = 'cop=acme,owt=web';
const JOB_SELECTOR = 'cop=acme,owt=web,pdl=shop,service=api,job=web';
const TAGS = 'cluster=prod,cop=acme,job=web,owt=web,pdl=shop,process=worker,service=api';
const HOST = 'h1';
const STEP = 60;
const METRIC = 'app.queue';
const SHOTS = join(ROOT, 'test-artifacts', 'ui');
const WAIT_MS = 60_000;
const until = <T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, ms = WAIT_MS): Promise<T> =>
  untilDeadline(what, check, ms);

interface Alarm {
  id: string | number;
  metric: string;
  endpoint: string;
  status: string;
  acknowledged: unknown;
}

const base = tmp('ui-monitoring');
let server: ServerProc;
let browser: Browser | undefined;
let page: Page;
const pageErrors: string[] = [];
/** the first timestamp pushed (seconds, aligned to the step) */
let t0 = 0;

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${server.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

function point(metric: string, tags: string, timestamp: number, value: number) {
  return { endpoint: HOST, metric, timestamp, step: STEP, value, counterType: 'GAUGE', tags };
}

before(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's (apt-get install -y chromium) or set NOOPS_CHROMIUM`);
  }
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer(join(base, 'server'), await freePort());
  // The tree's nodes, so the node pages exist (the host need not have joined for the admin).
  const set = await cli(server, ['cluster', 'set', '-t', CLUSTER, '--hosts', HOST]);
  assert.equal(set.code, 0, set.stdout + set.stderr);

  // 50 minutes of history: a queue that stays low, the instance running, the host's base metrics.
  const now = Math.floor(Date.now() / 1000);
  t0 = now - (now % STEP) - 50 * STEP;
  const history = [];
  for (let i = 0; i < 40; i++) {
    const t = t0 + i * STEP;
    history.push(point(METRIC, TAGS, t, 10 + (i % 7)));
    history.push(point('common.servicerunning', TAGS, t, 1));
    history.push(point('cpu.idle', '', t, 80 - (i % 5)));
    history.push(point('load.1min', '', t, 0.5 + (i % 3) / 10));
  }
  const pushed = await api<{ message: string; total: number; invalid: number }>('POST', '/push', history);
  assert.equal(pushed.invalid, 0, JSON.stringify(pushed));

  // A strategy high in the tree (inherited below) and one on the job itself (another metric: the
  // same metric and tags on a lower node would replace the higher one there).
  for (const args of [
    ['-t', HIGH, '--metric', METRIC, '--func', 'all(#2)', '--op', '>', '--right', '100', '--priority', '1', '--note', 'queue too long'],
    [
      '-t',
      JOB_SELECTOR,
      '--metric',
      'common.servicerunning',
      '--func',
      'all(#3)',
      '--op',
      '==',
      '--right',
      '0',
      '--priority',
      '2',
      '--note',
      'worker down',
    ],
  ]) {
    const r = await cli(server, ['strategy', 'add', ...args, '--max', '3']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  }
  // The queue grows past 100: two points in a row raise a PROBLEM.
  await api('POST', '/push', [point(METRIC, TAGS, t0 + 40 * STEP, 150), point(METRIC, TAGS, t0 + 41 * STEP, 170)]);
  await until('the judge to raise the PROBLEM', async () => {
    const { alarms } = await api<{ alarms: Alarm[] }>('GET', '/alarms?status=problem');
    return alarms.find((a) => a.metric === METRIC && a.status === 'PROBLEM');
  });

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
  await server?.stop();
  cleanup([base]);
});

/** Pixels of the chart's canvas close to the colour of its first line (#1f6feb). */
async function linePixels(chart: ReturnType<Page['locator']>): Promise<number> {
  return chart
    .locator('canvas')
    .first()
    .evaluate((el) => {
      // the tests are compiled without the DOM's types: the canvas as far as it is used here
      const c = el as unknown as {
        width: number;
        height: number;
        getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
      };
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3]! > 128 && Math.abs(data[i]! - 31) < 40 && Math.abs(data[i + 1]! - 111) < 40 && Math.abs(data[i + 2]! - 235) < 40)
          n++;
      }
      return n;
    });
}

async function shownRange(): Promise<{ from: number; to: number; points: number }> {
  const fig = page.locator('#chart figure.chart');
  return {
    from: Number(await fig.getAttribute('data-from')),
    to: Number(await fig.getAttribute('data-to')),
    points: Number(await fig.getAttribute('data-points')),
  };
}

test('the metrics page finds the series by selector and metric and charts it with uPlot, its alarm marked', async () => {
  await page.keyboard.press('g');
  await page.keyboard.press('m');
  await page.getByRole('heading', { name: 'Metrics', level: 1 }).waitFor();
  await page.locator('#m-selector').fill(HIGH);
  await page.locator('#m-metric').fill(METRIC);
  await page.getByRole('button', { name: 'Find' }).click();
  const row = page.locator('.series-table tbody tr').filter({ hasText: METRIC });
  // the list before the query (every series, METRIC's among them) may still show, or be loading
  // the query's answer: the query's list is the one with a single row
  await until(
    'only the series under the selector with that metric',
    async () => (await page.locator('.series-table tbody tr').count()) === 1,
  );
  await row.waitFor();
  await row.locator('a.chart-link').click();
  const chart = page.locator('#chart .series-chart');
  await chart.locator('.uplot canvas').waitFor();
  await until('the line to be drawn', async () => (await linePixels(chart)) > 50);
  const r = await shownRange();
  assert.equal(r.to - r.from, 3600, 'the last hour by default');
  assert.ok(r.points >= 40, `the pushed points are charted (${r.points})`);
  await until('the alarm to be marked', async () => Number(await chart.getAttribute('data-markers')) >= 1);
  assert.match(await chart.locator('.chart-alarms').innerText(), /PROBLEM P1 queue too long/);
  await page.screenshot({ path: join(SHOTS, 'metrics.png') });
});

test('a drag zooms the chart to a narrower range (in the address); a double-click goes back', async () => {
  const before = await shownRange();
  const over = page.locator('#chart .u-over');
  const box = (await over.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height / 2, { steps: 8 });
  await page.mouse.up();
  await page.waitForURL(/from=\d+&to=\d+/);
  const zoomed = await until('the zoomed range to be drawn', async () => {
    const r = await shownRange();
    return r.to - r.from < before.to - before.from && r;
  });
  assert.ok(zoomed.from >= before.from && zoomed.to <= before.to, `${JSON.stringify(zoomed)} lies inside ${JSON.stringify(before)}`);
  assert.ok(zoomed.points > 0 && zoomed.points < before.points, `fewer points in the zoomed range (${zoomed.points} of ${before.points})`);
  await page.locator('#chart').getByText('zoomed:').waitFor();

  await page.locator('#chart .u-over').dblclick();
  await page.waitForURL((u) => !u.hash.includes('from='));
  await until('the last hour again', async () => {
    const r = await shownRange();
    return r.to - r.from === 3600 && r;
  });
});

test("a host's base metrics at a click", async () => {
  await page.locator('.series-table a', { hasText: HOST }).first().click();
  const panel = page.locator('#host-base');
  await panel.getByRole('heading', { name: `Base metrics of ${HOST}` }).waitFor();
  await until('both base metrics charted', async () => (await panel.locator('.series-chart .uplot canvas').count()) === 2);
  assert.deepEqual(await panel.locator('.series-chart').evaluateAll((els) => els.map((e) => e.getAttribute('data-key'))), [
    `${HOST}/cpu.idle`,
    `${HOST}/load.1min`,
  ]);
});

test("a node's page: each instance's common.servicerunning at a click, and its strategies, inherited ones marked", async () => {
  await page.goto(`${server.url}/#/n/${JOB}`);
  const monitoring = page.locator('#monitoring');
  await monitoring.getByRole('button', { name: /common\.servicerunning/ }).click();
  await monitoring.locator('.uplot canvas').waitFor();
  await until('the line to be drawn', async () => (await linePixels(monitoring)) > 20);
  assert.match(await monitoring.locator('.series-links').innerText(), /h1 process=worker/);

  const rows = page.locator('#strategies tbody tr');
  await until('both strategies listed', async () => (await rows.count()) === 2);
  const inherited = await rows.evaluateAll((trs) =>
    trs.map((tr) => [tr.querySelector('td:nth-child(3)')?.textContent?.trim(), tr.getAttribute('data-inherited')]),
  );
  assert.deepEqual(inherited.sort(), [
    ['all(#2) > 100', 'true'],
    ['all(#3) == 0', 'false'],
  ]);
  assert.match(await page.locator('#strategies').innerText(), new RegExp(`inherited from ${HIGH}`));
  await page.locator('#monitoring').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(SHOTS, 'node-monitoring.png') });
});

test('the alarms page lists the alarm in trouble, links to its chart, and acknowledges it', async () => {
  await page.locator('main').click();
  await page.keyboard.press('g');
  await page.keyboard.press('a');
  await page.getByRole('heading', { name: 'Alarms', level: 1 }).waitFor();
  const row = page.locator('.alarms-table tbody tr[data-status="PROBLEM"]').filter({ hasText: METRIC });
  await row.waitFor();
  assert.match(await row.innerText(), /P1/);
  assert.match(await row.innerText(), /queue too long/);
  await page.screenshot({ path: join(SHOTS, 'alarms.png') });
  const id = await row.getAttribute('data-alarm');
  await row.getByRole('button', { name: 'Acknowledge' }).click();
  await page.locator(`tr[data-alarm="${id}"][data-acked="true"]`).waitFor();
  assert.equal(await page.locator(`tr[data-alarm="${id}"]`).getByRole('button', { name: 'Acknowledge' }).count(), 0);
  const { alarms } = await api<{ alarms: Alarm[] }>('GET', '/alarms?status=all');
  const stored = alarms.find((a) => String(a.id) === id);
  assert.ok(stored?.acknowledged, `the server has it acknowledged: ${JSON.stringify(stored)}`);

  await page.getByRole('button', { name: 'All events' }).click();
  await page.waitForURL(/#\/alarms\?status=all/);
  await page.locator(`tr[data-alarm="${id}"]`).waitFor();
  await page.locator(`tr[data-alarm="${id}"] a`, { hasText: 'chart' }).click();
  await page.locator('#chart .uplot canvas').waitFor();
  await until(
    'the alarm marked on its chart',
    async () => Number(await page.locator('#chart .series-chart').getAttribute('data-markers')) >= 1,
  );
});

test('no page raised an error', () => {
  assert.deepEqual(pageErrors, []);
});
