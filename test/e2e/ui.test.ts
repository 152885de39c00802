/**
 * The web console in a real headless Chromium against a real server and two real agents: sign
 * in (form and `/?token=`), walk and search the tree, deploy a release from the page and watch
 * it live, roll back with "Roll back to this version", see the hosts and the servers, follow every link.
 * Screenshots of the main pages go to test-artifacts/ui/.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { create } from 'tar';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { DeploymentView, HostView, InstanceView, NodeView, ServerView } from '../../src/api/index.js';
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
  until as untilDeadline,
  type Proc,
  type ServerProc,
} from './harness.js';
import { browserArgs, CHROMIUM } from './browser.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.api_job.web';
const CLUSTER = `${JOB}_cluster.prod`;
const OTHER = 'cop.acme_owt.ops_pdl.mon_service.alert_job.judge_cluster.prod';
const HOSTS = ['h1', 'h2'];
const SHOTS = join(ROOT, 'test-artifacts', 'ui');
/** How long a wait may take: generous, as the machine may be shared with other test runs. */
const WAIT_MS = 60_000;
const until = <T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, ms = WAIT_MS): Promise<T> =>
  untilDeadline(what, check, ms);

const base = tmp('ui');
const roots = HOSTS.map((h) => join(base, `agent-${h}`));
let server: ServerProc;
const agents: Proc[] = [];
let browser: Browser | undefined;
let ctx: BrowserContext;
let page: Page;
/** Errors the pages raised or logged (CSP violations are logged): there must be none. */
const pageErrors: string[] = [];
let v1 = '';
let v2 = '';
let broken = '';

before(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's (apt-get install -y chromium) or set NOOPS_CHROMIUM`);
  }
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer(join(base, 'server'), await freePort());
  HOSTS.forEach((h, i) => {
    agents.push(startAgent(server, roots[i]!, h, `rack=r${i + 1}`));
  });
  await until(
    'both hosts up',
    async () => (await cliJson<HostView[]>(server, ['hosts'])).filter((h) => h.status === 'up').length === 2,
    WAIT_MS,
  );
  const repo = join(base, 'repo');
  const app = makeAppRepo(repo);
  const c1 = app.commit('hello v1');
  const c2 = app.commit('hello v2');
  const c3 = app.commit('broken', { Procfile: 'web: node -e "process.exit(3)"\n' });
  [v1, v2, broken] = [c1.slice(0, 9), c2.slice(0, 9), c3.slice(0, 9)];
  for (const c of [c1, c2, c3]) assert.equal((await cli(server, ['build', '-u', repo, '-t', JOB, '-v', c])).code, 0);
  assert.equal((await cli(server, ['cluster', 'set', '-t', CLUSTER, '--hosts', HOSTS.join(',')])).code, 0);
  assert.equal((await cli(server, ['cluster', 'set', '-t', OTHER, '--hosts', 'h2'])).code, 0);
  const r = await cli(server, ['deploy', '-t', CLUSTER, '-v', v1]);
  assert.equal(r.code, 0, r.stdout + r.stderr);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: browserArgs() });
  ctx = await browser.newContext({ viewport: { width: 1366, height: 860 } });
  ctx.setDefaultTimeout(WAIT_MS);
  page = await ctx.newPage();
  watch(page);
});

after(async () => {
  await browser?.close();
  await Promise.all(agents.map((a) => a.stop()));
  await server?.stop();
  roots.forEach(killSupervised);
  cleanup([base]);
});

function watch(p: Page): void {
  p.on('pageerror', (e) => pageErrors.push(`${p.url()}: ${e.message}`));
  p.on('console', (m) => {
    // A refused token is an expected 401 in the sign-in tests, and a package URL that answers 404
    // an expected 422 in the import test; everything else is a fault.
    const expected = /status of 401/.test(m.text()) || (/status of 422/.test(m.text()) && m.location().url.includes('/releases/import'));
    if (m.type() === 'error' && !expected) pageErrors.push(`${p.url()}: ${m.text()}`);
  });
}

const shot = (name: string): Promise<Buffer> => page.screenshot({ path: join(SHOTS, `${name}.png`) });
const clusterRow = (): ReturnType<Page['locator']> => page.locator('.tree-row').filter({ has: page.locator(`a[title="${CLUSTER}"]`) });

test('nothing is shown without a token; a wrong or machine token is refused; the form signs in', async () => {
  await page.goto(`${server.url}/`);
  await page.getByLabel('Token').waitFor();
  assert.equal(await page.locator('.tree').count(), 0, 'no tree before signing in');
  await shot('login');

  await page.getByLabel('Token').fill('noops_admin_not-a-real-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'not known' }).waitFor();

  await page.getByLabel('Token').fill(server.joinToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'a join token' }).waitFor();

  await page.getByLabel('Token').fill(server.adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.tree-row').first().waitFor();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Token').waitFor();
  assert.equal(await page.evaluate('sessionStorage.length'), 0, 'signing out forgets the token');
});

test('/?token= signs in once: the token leaves the address bar and stays for the tab', async () => {
  await page.goto(`${server.url}/?token=${encodeURIComponent(server.adminToken)}#/hosts`);
  await page.getByRole('heading', { name: 'Hosts', level: 1 }).waitFor();
  assert.equal(page.url(), `${server.url}/#/hosts`);
  await page.reload();
  await page.getByRole('heading', { name: 'Hosts', level: 1 }).waitFor();
  assert.equal(await page.getByLabel('Token').count(), 0, 'still signed in after a reload');
});

test('walk the tree down to the cluster, with hosts, instances and health at every node', async () => {
  await page.goto(`${server.url}/#/`);
  for (const name of ['cop.acme', 'owt.web', 'pdl.shop', 'service.api', 'job.web']) {
    await page.locator('.tree-row a', { hasText: name }).first().click();
    await page.locator('h1', { hasText: name.split('.')[1]! }).waitFor();
    if (name === 'cop.acme') await shot('node');
  }
  assert.match(await page.locator('.page-head .summary').innerText(), /2 hosts · 2 of 2 instances up/);
  await clusterRow().locator('a').click();
  await page.getByRole('heading', { name: 'Deploy history' }).waitFor();
  assert.equal((await clusterRow().locator('.counts').innerText()).trim(), '2h · 2/2');
  assert.equal(await clusterRow().locator('.dot-ok').count(), 1, 'the cluster is healthy');
  const versions = await page.locator('.instances-table td.version').allInnerTexts();
  assert.deepEqual(versions, [v1, v1]);
  // The other team's cluster has hosts but nothing deployed: idle, not broken.
  const ops = page.locator('.tree-row', { hasText: 'owt.ops' });
  assert.equal(await ops.locator('.dot-idle').count(), 1);
});

test('search: "/" focuses it; a selector narrows the tree; a partial tag jumps to its node', async () => {
  await page.locator('main').click();
  await page.keyboard.press('/');
  assert.equal(await page.evaluate('document.activeElement?.getAttribute("type")'), 'search');
  await page.keyboard.type('owt=ops');
  await page.keyboard.press('Enter');
  await until('the tree to show only owt=ops', async () => {
    const names = await page.locator('.tree-row .name').allInnerTexts();
    return names.includes('ops') && !names.includes('web') && names;
  });
  await page.locator('.search input').fill('job.judge');
  await page.keyboard.press('Enter');
  await page.waitForURL(/#\/n\/cop\.acme_owt\.ops_pdl\.mon_service\.alert_job\.judge$/);
  await page.locator('.search input').fill('');
  await page.keyboard.press('Escape');
});

test('deploy a release from the page with a canary, watch it live, pause, resume and promote it', async () => {
  await page.goto(`${server.url}/#/n/${CLUSTER}`);
  await page.locator('#canary').check();
  await page.locator('#release').selectOption(v2);
  await until('v2 to be the pick', async () => (await page.locator('#release').inputValue()) === v2);
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  // The canary batch (one host) deploys, then the deployment waits for a person.
  const live = page.locator('.live[data-status="running"][data-phase="canary"]');
  await live.waitFor({ timeout: 2 * WAIT_MS }).catch(async (err: Error) => {
    throw new Error(`${err.message}\nthe page shows:\n${await page.locator('main').innerText()}`);
  });
  const states = async (): Promise<string[]> =>
    (await page.locator('.live-hosts tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-state') ?? ''))).slice(0).sort();
  // the hosts' rows follow their own updates, which may come a moment after the deployment's (seen in CI)
  const statesBecome = async (want: string[]): Promise<void> => {
    let last: string[] = [];
    await until(
      `the hosts shown ${want.join(', ')}`,
      async () => JSON.stringify((last = await states())) === JSON.stringify(want),
      WAIT_MS,
    ).catch(() => undefined);
    assert.deepEqual(last, want);
  };
  await statesBecome(['queued', 'succeeded']);
  assert.match(await page.locator('.live').innerText(), /batch 1 of 2 · canary: waiting for promote/);
  assert.match(await page.locator('.live').innerText(), /1 of 2 hosts done, 1 to go/);
  await shot('deploy-live');

  await page.getByRole('button', { name: 'Pause', exact: true }).click();
  await page.locator('.live[data-paused="true"]').waitFor();
  await page.getByRole('button', { name: 'Resume', exact: true }).click();
  await page.locator('.live[data-paused="false"]').waitFor();
  await page.getByRole('button', { name: 'Promote', exact: true }).click();
  await page.locator('.live[data-status="succeeded"]').waitFor({ timeout: 2 * WAIT_MS });
  await statesBecome(['succeeded', 'succeeded']);
  assert.equal(await page.locator('.controls button').count(), 0, 'no controls once it has ended');
  const ps = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);
  assert.deepEqual(
    ps.map((p) => p.version),
    [v2, v2],
  );
  await until(
    'the page to show v2 on both hosts',
    async () => (await page.locator('.instances-table td.version').allInnerTexts()).join() === `${v2},${v2}`,
  );
  const audit = await cliJson<{ action: string }[]>(server, ['audit', '-n', '50']);
  for (const a of ['deploy.pause', 'deploy.resume', 'deploy.promote'])
    assert.ok(
      audit.some((x) => x.action === a),
      `audit has ${a}`,
    );
});

test('"Roll back to this version" asks first, then rolls back: a new history row, the instances change version', async () => {
  const rows = page.locator('tr.history-row');
  await until('two history rows', async () => (await rows.count()) === 2);
  const v1Row = rows.filter({ has: page.locator(`td.version`, { hasText: v1 }) });
  const button = v1Row.getByRole('button', { name: 'Roll back to this version', exact: true });
  assert.equal(await rows.getByRole('button', { name: 'Roll back to this version', exact: true }).count(), 2, 'a button on every row');
  assert.equal(await rows.first().getByRole('button').last().isDisabled(), true, 'the version running now cannot be rolled back to');

  // Dismissed: nothing happens.
  let asked = '';
  page.once('dialog', (d) => {
    asked = d.message();
    void d.dismiss();
  });
  await button.click();
  await until('the question', () => asked !== '');
  assert.match(asked, new RegExp(`Roll back cluster\\.prod to version ${v1}\\?`));
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await cliJson<DeploymentView[]>(server, ['history', '-t', CLUSTER])).length, 2, 'no deployment without confirmation');

  // Accepted: the rollback runs and is recorded.
  page.once('dialog', (d) => void d.accept());
  await button.click();
  await page
    .locator('#live')
    .filter({ hasText: 'Rollback #' })
    .locator('.live[data-status="succeeded"]')
    .waitFor({ timeout: 2 * WAIT_MS });
  await until('the history to gain the rollback row', async () => (await rows.count()) === 3);
  const top = rows.first();
  assert.equal(await top.locator('td.version').innerText(), v1);
  assert.match(await top.innerText(), /rollback\s+admin/);
  assert.match(await top.innerText(), /succeeded/);
  await until(
    'the instances to run v1 again',
    async () => (await page.locator('.instances-table td.version').allInnerTexts()).join() === `${v1},${v1}`,
    WAIT_MS,
  );
  const history = await cliJson<DeploymentView[]>(server, ['history', '-t', CLUSTER]);
  assert.deepEqual(
    history.map((h) => [h.version, h.kind, h.status]),
    [
      [v1, 'rollback', 'succeeded'],
      [v2, 'deploy', 'succeeded'],
      [v1, 'deploy', 'succeeded'],
    ],
  );

  await top.getByRole('button', { name: 'show' }).click();
  const detail = page.locator('tr.history-detail').first();
  // the machines are read when the details open (a page of them): every host of a small cluster
  await detail.locator('tr[data-host="h2"]').waitFor();
  assert.match(await detail.innerText(), /timeout: 300/);
  assert.match(await detail.innerText(), /h1\s+\S+\s+succeeded/);
  await page.locator('#history').scrollIntoViewIfNeeded();
  await shot('cluster');
});

test("a release that cannot start fails on the page with each host's reason, and the old release keeps running", async () => {
  await page.locator('#release').selectOption(broken);
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  const live = page.locator('#live').filter({ hasText: 'Deploy #4' });
  await live.locator('.live:not([data-status="running"])').waitFor({ timeout: 2 * WAIT_MS });
  assert.equal(await live.locator('.live').getAttribute('data-status'), 'rolled_back', 'the default policy sends the changed hosts back');
  const text = await live.innerText();
  assert.match(text, /back on its previous release/);
  assert.match(text, /died \d+ times before staying up/);
  // The host that failed shows as failed, or as reverted once it is back on the old release. Its
  // row is read again after the summary that ended the deployment (deploy-hosts.ts): wait for it.
  await live
    .locator('.live-hosts tr[data-state="failed"], .live-hosts tr[data-state="reverted"]')
    .first()
    .waitFor({ timeout: WAIT_MS })
    .catch((err: Error) => {
      throw new Error(`the failed host is not marked: ${err.message}`);
    });
  await shot('deploy-failed');
  await until('the history to record it', async () => (await page.locator('tr.history-row').first().innerText()).includes('rolled back'));
  let ps: InstanceView[] = [];
  await until(
    'the instances to run v1',
    async () => (ps = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER])).every((p) => p.version === v1 && p.state === 'up'),
    2 * WAIT_MS,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last ps: ${JSON.stringify(ps)}`);
  });
});

test('"g h" opens the hosts: every host, up, and what runs on it', async () => {
  await page.locator('main').click();
  await page.keyboard.press('g');
  await page.keyboard.press('h');
  await page.waitForURL(/#\/hosts$/);
  const h2 = page.locator('table.hosts-page tr[data-host="h2"]');
  await h2.waitFor();
  assert.match(await h2.innerText(), /up/);
  assert.match(await h2.innerText(), new RegExp(`job\\.web_cluster\\.prod\\s+web\\s+${v1}\\s+up`));
  assert.match(await h2.innerText(), /job\.judge_cluster\.prod/);
  await shot('hosts');
});

test('"g s" opens the servers: this one, marked, leading the rollouts; the page reads again by itself', async () => {
  await page.locator('main').click();
  await page.keyboard.press('g');
  await page.keyboard.press('s');
  await page.waitForURL(/#\/servers$/);
  const row = page.locator('table.servers-page tr[data-self="true"]');
  await row.waitFor();
  assert.equal(await page.locator('table.servers-page tbody tr').count(), 1, 'one server on SQLite');
  const text = await row.innerText();
  assert.match(text, /\(this\)/);
  assert.match(text, /\brollout\b/);
  assert.ok(text.includes(server.url), text);
  // the CLI says the same
  const listed = await cliJson<ServerView[]>(server, ['servers']);
  assert.deepEqual(
    listed.map((s) => [s.address, s.leads, s.self]),
    [[server.url, ['history', 'judge', 'rollout', 'schedule'], true]],
  );
  assert.ok(text.includes(listed[0]!.id), text);
  assert.match(
    await page.locator('.page-head .summary').innerText(),
    /1 server on this database · history, judge, rollout, schedule led by/,
  );
  // refreshed every few seconds: the answer is read again without a reload
  let reads = 0;
  const count = (r: { url(): string }): void => {
    if (r.url().endsWith('/api/v1/servers')) reads += 1;
  };
  page.on('request', count);
  await until('the servers to be read again', () => reads >= 1, 15_000);
  page.off('request', count);
  await shot('servers');
});

test('no dead links: every link of every page leads to a page that is there', async () => {
  const seen = new Set<string>();
  const queue = ['#/'];
  while (queue.length > 0 && seen.size < 40) {
    const hash = queue.shift()!;
    if (seen.has(hash)) continue;
    seen.add(hash);
    await page.goto(`${server.url}/${hash}`);
    await page.locator('.page').first().waitFor();
    await until(`${hash} to load`, async () => (await page.locator('.loading').count()) === 0);
    assert.equal(await page.getByText('There is no page at').count(), 0, `${hash} is a page`);
    assert.equal(await page.locator('main .error').count(), 0, `${hash} shows no error`);
    for (const link of await page.locator('a[href^="#/"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')!))) {
      if (!seen.has(link)) queue.push(link);
    }
  }
  assert.ok(seen.size >= 10, `followed ${seen.size} pages`);
  await page.goto(`${server.url}/#/nowhere`);
  await page.getByText('There is no page at #/nowhere').waitFor();
});

test('GET /api/v1/nodes/:tag: a partial tag names its node; unknown nodes and missing tokens are refused', async () => {
  const get = (path: string, token?: string): Promise<Response> =>
    fetch(`${server.url}/api/v1${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const r = await get('/nodes/job.web_cluster.prod', server.adminToken);
  assert.equal(r.status, 200);
  const v = (await r.json()) as NodeView;
  assert.equal(v.node.tag, CLUSTER);
  assert.deepEqual([v.node.hosts, v.node.instances, v.node.instancesUp, v.node.health], [2, 2, 2, 'ok']);
  assert.deepEqual(
    v.path.map((p) => p.level),
    ['cop', 'owt', 'pdl', 'service', 'job', 'cluster'],
  );
  assert.deepEqual(
    v.hosts.map((h) => [h.name, h.status]),
    [
      ['h1', 'up'],
      ['h2', 'up'],
    ],
  );
  assert.equal(v.cluster?.currentVersion, v1);
  assert.equal(v.cluster?.current?.version, v1);
  assert.equal(v.cluster?.running, null);
  assert.deepEqual(
    v.jobs.map((j) => [j.tag, j.releases]),
    [[JOB, 3]],
  );
  const unknown = await get('/nodes/cop.nope', server.adminToken);
  assert.equal(unknown.status, 404);
  assert.equal(((await unknown.json()) as { code: string }).code, 'NOOPS_E_TAG_UNKNOWN');
  assert.equal((await get('/nodes/cop.acme')).status, 401);
});

test("the deploy form offers built and imported releases: a package's URL imported from the page is ready to deploy", async () => {
  // A package built elsewhere, as another CI writes it: manifest.json first, then the app.
  const dir = join(base, 'pkg');
  mkdirSync(dir, { recursive: true });
  const commit = `${'c0ffee'.repeat(6)}c0ff`;
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify({
      schema: 1,
      job: JOB,
      version: commit.slice(0, 9),
      commit,
      repo: 'https://ci.example.com/api.git',
      builtAt: new Date().toISOString(),
      stack: 'procfile',
      env: {},
      processes: [{ name: 'web', command: 'node server.js', port: 'auto', env: {}, stopSignal: 'SIGTERM', stopTimeout: 10, startGrace: 1 }],
    }),
  );
  writeFileSync(
    join(dir, 'server.js'),
    "require('http').createServer((q, s) => s.end('imported')).listen(Number(process.env.PORT), '127.0.0.1');\n",
  );
  const file = join(base, 'imported.tar.gz');
  await create({ gzip: true, file, cwd: dir, portable: true }, ['manifest.json', 'server.js']);
  const files = createServer((req, res) => {
    if (req.url !== '/api.tar.gz') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/gzip' }).end(readFileSync(file));
  });
  // port 0: the kernel's pick, held from the start (a port picked first could be taken before listen)
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  const port = (files.address() as AddressInfo).port;
  try {
    await page.goto(`${server.url}/#/n/${CLUSTER}`);
    await page.getByRole('button', { name: 'Import a package…' }).click();
    await page.locator('#pkg-url').fill(`http://127.0.0.1:${port}/missing.tar.gz`);
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.locator('.import .error, .import [role="alert"]').first().waitFor();
    assert.match(await page.locator('.import').innerText(), /NOOPS_E_PACKAGE_FETCH|cannot|404/);
    await page.locator('#pkg-url').fill(`http://127.0.0.1:${port}/api.tar.gz`);
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.locator('.import .imported').waitFor();
    await until('the imported release to be the pick', async () => (await page.locator('#release').inputValue()) === commit.slice(0, 9));
    const options = await page.locator('#release option').allInnerTexts();
    assert.ok(
      options.some((o) => o.startsWith(commit.slice(0, 9)) && o.includes('imported')),
      options.join('\n'),
    );
    assert.ok(
      options.some((o) => o.includes('built')),
      'built releases are offered beside it',
    );
    const releases = await cliJson<{ version: string; buildId: number | null; repo: string }[]>(server, ['releases', '-t', JOB]);
    assert.deepEqual(
      releases.filter((r) => r.buildId === null).map((r) => [r.version, r.repo]),
      [[commit.slice(0, 9), `http://127.0.0.1:${port}/api.tar.gz`]],
    );
  } finally {
    files.close();
  }
});

test('empty and error states: a new server says how to begin; a server that goes away is said so', async () => {
  const fresh = await startServer(join(base, 'fresh'), await freePort());
  const other = await browser!.newContext({ viewport: { width: 1366, height: 860 } });
  other.setDefaultTimeout(WAIT_MS);
  const p = await other.newPage();
  try {
    await p.goto(`${fresh.url}/?token=${encodeURIComponent(fresh.adminToken)}`);
    await p.getByText('The service tree is empty.').waitFor();
    await p.getByText('Nothing here yet.').waitFor();
    await p.screenshot({ path: join(SHOTS, 'empty.png') });
    await p.goto(`${fresh.url}/#/hosts`);
    await p.getByText('No host has joined yet.').waitFor();
    await p.goto(`${fresh.url}/#/n/cop.nope`);
    await p.getByText('There is no node cop.nope.').waitFor();
    await fresh.stop();
    // The pages read again every few seconds; the next read finds no server and says so.
    await p.goto(`${fresh.url}/#/hosts`).catch(() => undefined);
    await p.getByRole('alert').filter({ hasText: 'cannot reach the noops server' }).first().waitFor();
  } finally {
    await other.close();
    await fresh.stop();
  }
});

test('the pages raised no errors (scripts, CSP)', () => {
  assert.deepEqual(pageErrors, []);
});
