/**
 * The web console with team tokens, in a real headless Chromium against a real server and two
 * real agents: a viewer sees its subtree and no button that changes anything; a deployer sees
 * and uses them on its own cluster; another team's cluster is absent from the tree and its
 * address says "not found, or not yours"; a token revoked or expired while the page is open
 * signs the user out, saying so. Screenshots go to test-artifacts/ui/.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { DeploymentView, HostView, TokenCreated } from '../../src/api/index.js';
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

const TEAM = 'cop.acme_owt.web';
const JOB = `${TEAM}_pdl.shop_service.api_job.web`;
const CLUSTER = `${JOB}_cluster.prod`;
const OTHER = 'cop.acme_owt.ops_pdl.mon_service.alert_job.judge_cluster.prod';
const HOSTS = ['h1', 'h2'];
const SHOTS = join(ROOT, 'test-artifacts', 'ui');
/** How long a wait may take: generous, as the machine may be shared with other test runs. */
const WAIT_MS = 60_000;
const until = <T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, ms = WAIT_MS): Promise<T> =>
  untilDeadline(what, check, ms);

const base = tmp('ui-scope');
const roots = HOSTS.map((h) => join(base, `agent-${h}`));
let server: ServerProc;
const agents: Proc[] = [];
let browser: Browser | undefined;
/** Errors the pages raised or logged: there must be none (a 403 would be a button shown wrongly). */
const pageErrors: string[] = [];
let v1 = '';
let v2 = '';
/** the canary deployment the admin starts, waiting for promote */
let canary: DeploymentView;

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${server.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** A team token, made by the admin as `noops token create --name N --scope TAG --role R` does. */
async function teamToken(name: string, role: 'viewer' | 'deployer', expiresAt?: string): Promise<string> {
  return (await api<TokenCreated>('POST', '/tokens', { name, scope: TEAM, role, ...(expiresAt ? { expiresAt } : {}) })).token;
}

/** A new tab (its own session) signed in with `token`, on `hash`. */
async function signedIn(token: string, hash = '#/'): Promise<Page> {
  const ctx = await browser!.newContext({ viewport: { width: 1366, height: 860 } });
  ctx.setDefaultTimeout(WAIT_MS);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
  page.on('console', (m) => {
    // A 404 is what the not-found pages are about, a 401 what signs out; anything else is a fault.
    if (m.type() === 'error' && !/status of 40[14]/.test(m.text())) pageErrors.push(`${page.url()}: ${m.text()}`);
  });
  await page.goto(`${server.url}/?token=${encodeURIComponent(token)}${hash}`);
  await page.locator('.who').waitFor();
  return page;
}

const treeNames = (page: Page): Promise<string[]> => page.locator('.tree-row .name').allInnerTexts();

before(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's (apt-get install -y chromium) or set NOOPS_CHROMIUM`);
  }
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer(join(base, 'server'), await freePort());
  HOSTS.forEach((h, i) => {
    agents.push(startAgent(server, roots[i]!, h, `rack=r${i + 1}`));
  });
  await until('both hosts up', async () => (await cliJson<HostView[]>(server, ['hosts'])).filter((h) => h.status === 'up').length === 2);
  const repo = join(base, 'repo');
  const app = makeAppRepo(repo);
  const c1 = app.commit('hello v1');
  const c2 = app.commit('hello v2');
  [v1, v2] = [c1.slice(0, 9), c2.slice(0, 9)];
  for (const c of [c1, c2]) assert.equal((await cli(server, ['build', '-u', repo, '-t', JOB, '-v', c])).code, 0);
  assert.equal((await cli(server, ['cluster', 'set', '-t', CLUSTER, '--hosts', HOSTS.join(',')])).code, 0);
  assert.equal((await cli(server, ['cluster', 'set', '-t', OTHER, '--hosts', 'h2'])).code, 0);
  const r = await cli(server, ['deploy', '-t', CLUSTER, '-v', v1]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  // A deployment waiting at its canary: the buttons Pause, Promote and Abort are on offer.
  canary = await api<DeploymentView>('POST', '/deployments', { tag: CLUSTER, version: v2, canary: ['h1'] });
  await until(
    'the canary to wait for promote',
    async () => (await api<DeploymentView>('GET', `/deployments/${canary.id}`)).progress?.phase === 'canary',
  );
  browser = await chromium.launch({ executablePath: CHROMIUM, args: browserArgs() });
});

after(async () => {
  await browser?.close();
  await Promise.all(agents.map((a) => a.stop()));
  await server?.stop();
  roots.forEach(killSupervised);
  cleanup([base]);
});

test('a viewer sees its subtree, the running canary and the history, and no button that changes anything', async () => {
  const page = await signedIn(await teamToken('web-viewer', 'viewer'));
  assert.equal((await page.locator('.who').innerText()).trim(), `signed in as web-viewer · viewer on ${TEAM}`);
  // The top of the tree: the way down to its part, nothing beside it.
  await until('the tree', async () => (await treeNames(page)).includes('web'));
  assert.deepEqual(await treeNames(page), ['acme', 'web']);
  assert.deepEqual(
    (await page.locator('.cards .card-title').allInnerTexts()).map((t) => t.trim()),
    ['owt.web'],
  );

  await page.goto(`${server.url}/#/n/${CLUSTER}`);
  await page.locator(`.live[data-phase="canary"]`).waitFor();
  await until('the history', async () => (await page.locator('tr.history-row').count()) === 2);
  assert.equal(await page.locator('#deploy').count(), 0, 'no deploy form');
  assert.equal(await page.getByRole('button', { name: 'Deploy', exact: true }).count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Build a commit…' }).count(), 0);
  assert.equal(await page.locator('button.rollback').count(), 0, 'no "Roll back to this version"');
  assert.equal(await page.locator('.controls button').count(), 0, 'no pause, promote or abort');
  assert.equal(
    (await page.locator('.read-only').innerText()).trim(),
    `You may look but not deploy here: the token web-viewer is viewer on ${TEAM}.`,
  );
  // Everything else is there: the release running, the canary's hosts, the instances.
  assert.match(await page.locator('.live').innerText(), /batch 1 of 2 · canary: waiting for promote/);
  assert.equal(await page.locator('.instances-table tbody tr').count(), 2);
  await page.screenshot({ path: join(SHOTS, 'cluster-viewer.png') });
  await page.goto(`${server.url}/#/d/${canary.id}`);
  await page.locator('.live[data-phase="canary"]').waitFor();
  assert.equal(await page.locator('.controls button').count(), 0, "none on the deployment's own page either");
  await page.context().close();
});

test('another team\'s cluster is absent from the tree, and its address says "not found, or not yours"', async () => {
  const page = await signedIn(await teamToken('web-deployer', 'deployer'), `#/n/${OTHER}`);
  await page
    .getByText(`There is no node ${OTHER}, or it is not yours: the token "web-deployer" sees only ${TEAM} and what is under it.`)
    .waitFor();
  await page.locator('.tree-row').first().waitFor();
  assert.equal(await page.locator('.tree-row a[title^="cop.acme_owt.ops"]').count(), 0, 'nothing of owt.ops in the tree');
  // The node above both teams lists only this team's part.
  await page.goto(`${server.url}/#/n/cop.acme`);
  await page.getByRole('heading', { name: 'Under this node' }).waitFor();
  assert.deepEqual(await page.locator('main table').first().locator('tbody td:first-child a').allInnerTexts(), ['owt.web']);
  // A deployment of no one's, or of another team's, says the same.
  await page.goto(`${server.url}/#/d/999`);
  await page.getByText('There is no deployment #999, or it is not yours').waitFor();
  // The admin sees the other team's node.
  await page.goto(`${server.url}/?token=${encodeURIComponent(server.adminToken)}#/n/${OTHER}`);
  await page.getByRole('heading', { name: 'Deploy history' }).waitFor();
  assert.equal((await page.locator('.who').innerText()).trim(), 'signed in as admin · admin of everything');
  await page.context().close();
});

test('a deployer sees the buttons on its own cluster and they work: it promotes the canary', async () => {
  const page = await signedIn(await teamToken('web-deployer-2', 'deployer'), `#/n/${CLUSTER}`);
  assert.equal((await page.locator('.who').innerText()).trim(), `signed in as web-deployer-2 · deployer on ${TEAM}`);
  await page.locator('.live[data-phase="canary"]').waitFor();
  assert.deepEqual(await page.locator('.controls button').allInnerTexts(), ['Pause', 'Promote', 'Abort']);
  await page.getByRole('button', { name: 'Deploy', exact: true }).waitFor();
  await until('the history', async () => (await page.locator('tr.history-row').count()) === 2);
  assert.equal(await page.locator('button.rollback').count(), 2, '"Roll back to this version" on every row');
  assert.equal(await page.locator('.read-only').count(), 0);

  await page.getByRole('button', { name: 'Promote', exact: true }).click();
  await page.locator('.live[data-status="succeeded"]').waitFor({ timeout: 2 * WAIT_MS });
  const done = await api<DeploymentView>('GET', `/deployments/${canary.id}`);
  assert.equal(done.status, 'succeeded');
  const audit = await api<{ action: string; actor: string }[]>('GET', '/audit?limit=50');
  assert.ok(
    audit.some((a) => a.action === 'deploy.promote' && a.actor === 'web-deployer-2'),
    'the audit names the deployer',
  );
  await until(
    'the v1 row to offer a rollback',
    async () => !(await page.locator(`tr.history-row[data-version="${v1}"] button.rollback`).first().isDisabled()),
  );
  await page.context().close();
});

test('a token revoked while the page is open signs the user out, saying so', async () => {
  const page = await signedIn(await teamToken('web-temp', 'viewer'), `#/n/${CLUSTER}`);
  await page.getByRole('heading', { name: 'Deploy history' }).waitFor();
  await api('DELETE', '/tokens/web-temp');
  // The page reads itself again every few seconds; the first read refused signs out.
  await page
    .getByRole('status')
    .filter({
      hasText:
        'You were signed out: the token is not known to this server (wrong, revoked, or from another server). Sign in again with a valid token.',
    })
    .waitFor();
  await page.getByLabel('Token').waitFor();
  assert.equal(await page.locator('.tree').count(), 0, 'nothing is shown any more');
  assert.equal(await page.evaluate('sessionStorage.length'), 0, 'the token is forgotten');
  await page.screenshot({ path: join(SHOTS, 'signed-out.png') });
  await page.context().close();
});

test('a token that expires while the page is open signs the user out, saying so', async () => {
  const expiresAt = new Date(Date.now() + 10_000).toISOString();
  const page = await signedIn(await teamToken('web-short', 'viewer', expiresAt), `#/n/${CLUSTER}`);
  await page
    .getByRole('status')
    .filter({ hasText: `You were signed out: the token "web-short" expired at ${expiresAt}.` })
    .waitFor();
  await page.getByLabel('Token').waitFor();
  await page.context().close();
});

test('the pages raised no errors (scripts, CSP, refused calls)', () => {
  assert.deepEqual(pageErrors, []);
});
