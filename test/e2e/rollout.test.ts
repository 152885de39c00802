/**
 * Rollouts end to end, with a real server, four real agents and a real git repository: one
 * click (build + test + deploy), batches in order, a health check that fails and rolls the
 * batch back, a failing deploy test, a canary that waits for promote while a second deploy is
 * refused, a server SIGKILLed mid-rollout, and a rollback to an old release without a download.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ApiClient } from '../../src/api/index.js';
import type { DeploymentEvent, DeploymentView, HostProgress } from '../../src/api/index.js';
import {
  cleanup,
  cli,
  freePort,
  getJson,
  killSupervised,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
} from './harness.js';
import { RECORD_PREFIX, makeRolloutRepo } from './rollout-app.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.api_job.roll';
const CLUSTER = `${JOB}_cluster.prod`;
const HOSTS = ['h1', 'h2', 'h3', 'h4'];

const base = tmp('rollout');
const data = join(base, 'server');
const roots = HOSTS.map((h) => join(base, `agent-${h}`));
let server: ServerProc;
let port: number;
let api: ApiClient;
const agents: Proc[] = [];

after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await server?.stop();
  roots.forEach(killSupervised);
  cleanup([base]);
});

type Answer = { greeting: string; version: string; kind: string };

/** What every host serves, in host order, straight from the instances. */
async function serving(): Promise<string[]> {
  const rows = (await api.instances(CLUSTER)).sort((a, b) => a.host.localeCompare(b.host));
  return Promise.all(rows.map(async (r) => `${r.host}:${r.version}:${(await getJson<Answer>(`http://127.0.0.1:${r.port}/`)).greeting}`));
}

const everywhere = (version: string, greeting: string): string[] => HOSTS.map((h) => `${h}:${version}:${greeting}`);

/** The newest deployment's deploy-test runs, as each recorded itself in its output. */
async function testRuns(): Promise<{ batch: string; version: string; instances: string[]; got: string[] }[]> {
  return (await newest()).progress!.tests.map((x) => {
    const line = x.commands[0]!.output.split('\n').find((l) => l.startsWith(RECORD_PREFIX));
    return JSON.parse(line!.slice(RECORD_PREFIX.length));
  });
}

async function build(commit: string): Promise<string> {
  const b = await api.startBuild({ repo: repoDir, tag: JOB, ref: commit });
  const done = await until(
    'the build',
    async () => {
      const { build } = await api.build(b.id);
      return build.status !== 'running' && build;
    },
    120_000,
    200,
  );
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  return done.version!;
}

const newest = async (): Promise<DeploymentView> => (await api.history(CLUSTER, 1))[0]!;
const ended = (id: number): Promise<DeploymentView> =>
  until(
    `deployment #${id} to end`,
    async () => {
      const d = await api.deployment(id);
      return d.status !== 'running' && d;
    },
    90_000,
    200,
  );

const repoDir = join(base, 'repo');
const app = makeRolloutRepo(repoDir);

test('rollouts: batches, health gates, deploy tests, canary, restart, rollback', async (t) => {
  port = await freePort();
  server = await startServer(data, port);
  api = new ApiClient(server.url, server.adminToken);
  HOSTS.forEach((h, i) => {
    agents.push(startAgent(server, roots[i]!, h));
  });
  await until('four hosts up', async () => (await api.hosts()).filter((h) => h.status === 'up').length === 4, 60_000);
  assert.equal((await cli(server, ['cluster', 'set', '-t', CLUSTER, '--hosts', HOSTS.join(',')])).code, 0);

  const c1 = app.commit('hello v1');
  const v1 = c1.slice(0, 9);
  let v2 = '';

  await t.test('one click: noops release builds, tests and deploys', async () => {
    const r = await cli(server, ['release', '-u', repoDir, '-t', CLUSTER, '-v', c1, '--batch', '100%']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`built ${JOB} ${v1}; deploying it`));
    assert.match(r.stdout, /\$ node -e .*unit tests pass/, 'the build ran the tests');
    assert.match(r.stdout, /deploy #\d+ succeeded/);
    assert.deepEqual(await serving(), everywhere(v1, 'hello v1'));
    assert.deepEqual(
      (await testRuns()).map((x) => [x.batch, x.version, x.instances.length, [...new Set(x.got)]]),
      [['1', v1, 4, ['hello v1']]],
    );
  });

  await t.test('a batched rollout goes batch by batch, each after the one before is healthy', async () => {
    v2 = (await build(app.commit('hello v2'))).slice(0, 9);
    const r = await cli(server, ['deploy', '-t', CLUSTER, '-v', v2, '--batch', '1, 50%']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.split('\n');
    const at = (s: string): number => lines.findIndex((l) => l.includes(s));
    assert.ok(at('batch 1 of 3: h1') < at('h1 is healthy') && at('h1 is healthy') < at('batch 2 of 3: h2, h3'), r.stdout);
    assert.ok(at('h2 is healthy') < at('batch 3 of 3: h4') && at('h3 is healthy') < at('batch 3 of 3: h4'), r.stdout);
    const d = await newest();
    const p = d.progress!;
    assert.deepEqual(p.batches, [['h1'], ['h2', 'h3'], ['h4']]);
    for (let i = 1; i < p.batches.length; i++) {
      const prevDone = Math.max(...p.batches[i - 1]!.map((h) => Date.parse(p.hosts[h]!.endedAt!)));
      for (const h of p.batches[i]!) assert.ok(Date.parse(p.hosts[h]!.startedAt!) >= prevDone, `${h} started after batch ${i} ended`);
    }
    assert.deepEqual(d.hostResults, { h1: 'succeeded', h2: 'succeeded', h3: 'succeeded', h4: 'succeeded' });
    assert.deepEqual(await serving(), everywhere(v2, 'hello v2'));
    // the deploy tests saw the first batch's instance, then all four
    assert.deepEqual(
      (await testRuns()).map((x) => [x.batch, x.instances.length, [...new Set(x.got)]]),
      [
        ['1', 1, ['hello v2']],
        ['3', 4, ['hello v2']],
      ],
    );
  });

  await t.test('a release that never accepts connections fails its first batch and every host stays on the old one', async () => {
    const v3 = (await build(app.commit('hello v3', { silentOn: 'agent-h2' }))).slice(0, 9);
    const r = await cli(server, ['deploy', '-t', CLUSTER, '-v', v3, '--batch', '2', '--timeout', '6s']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /deploy #\d+ rolled back: 1 host\(s\) failed in batch 1 of 2: h2: not healthy within 6s: web: health check failing: tcp 127\.0\.0\.1:\d+: connection refused; every changed host is back on its previous release/,
    );
    const d = await newest();
    assert.equal(d.status, 'rolled_back');
    assert.equal(d.hostResults.h1, 'reverted', 'h1 was healthy on v3 and went back');
    assert.match(d.hostResults.h2!, /^reverted after failing: not healthy within 6s/);
    assert.deepEqual([d.hostResults.h3, d.hostResults.h4], ['skipped', 'skipped']);
    assert.deepEqual(await serving(), everywhere(v2, 'hello v2'));
    const kinds = await Promise.all(
      (await api.instances(CLUSTER)).map(async (i) => [i.host, (await getJson<Answer>(`http://127.0.0.1:${i.port}/`)).kind]),
    );
    assert.deepEqual(Object.fromEntries(kinds).h1, 'rollback', 'a host sent back runs with NOOPS_DEPLOY_KIND=rollback');
  });

  await t.test('a failing deploy test fails the deploy', async () => {
    const v4 = (await build(app.commit('hello v4', { failTests: true }))).slice(0, 9);
    const r = await cli(server, ['deploy', '-t', CLUSTER, '-v', v4]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /deploy test "node deploy-test\.js": exited with code 1/);
    const d = await newest();
    assert.deepEqual(
      [d.status, d.message],
      [
        'rolled_back',
        'the deploy tests failed after batch 1 of 2: "node deploy-test.js" exited with code 1; every changed host is back on its previous release',
      ],
    );
    assert.deepEqual(
      d.progress!.tests.map((x) => [x.status, x.instances.length, x.commands[0]!.output.trim().split('\n').at(-1)]),
      [['failed', 1, 'deploy test: v4 is refused']],
    );
    assert.deepEqual(await serving(), everywhere(v2, 'hello v2'));
  });

  let v5 = '';
  await t.test('a canary waits for promote, and a second deploy meanwhile is refused naming the running one', async () => {
    v5 = (await build(app.commit('hello v5'))).slice(0, 9);
    const start = await cli(server, ['deploy', '-t', CLUSTER, '-v', v5, '--canary', 'h3', '--no-wait', '--json']);
    assert.equal(start.code, 0, start.stderr);
    const [d] = JSON.parse(start.stdout) as DeploymentView[];
    await until('the canary to wait', async () => (await api.deployment(d!.id)).progress!.phase === 'canary', 60_000, 200);
    assert.deepEqual(await serving(), [`h1:${v2}:hello v2`, `h2:${v2}:hello v2`, `h3:${v5}:hello v5`, `h4:${v2}:hello v2`]);
    const second = await cli(server, ['deploy', '-t', CLUSTER, '-v', v2]);
    assert.equal(second.code, 1);
    assert.match(
      second.stderr,
      new RegExp(`deployment #${d!.id} \\(deploy of ${v5}, started by admin at \\S+\\) is running on ${CLUSTER.replace(/\./g, '\\.')}`),
    );
    assert.match(second.stderr, /NOOPS_E_DEPLOY_LOCKED/);
    const status = await cli(server, ['deploy', 'status', '-t', CLUSTER]);
    assert.match(status.stdout, /status: running: waiting at the canary for `noops deploy promote`/);
    assert.match(status.stdout, /batch 1: h3 ✓\n {2}batch 2: h1 · {2}h2 · {2}h4 ·/);
    // the API streams the same events the CLI shows (for the web console)
    const events: DeploymentEvent[] = [];
    const streamed = (async () => {
      for await (const e of api.deploymentEvents(d!.id)) events.push(e);
    })();
    const promote = await cli(server, ['deploy', 'promote', '-t', CLUSTER]);
    assert.equal(promote.code, 0, promote.stderr);
    assert.equal((await ended(d!.id)).status, 'succeeded');
    await streamed; // the stream ends with the deployment
    assert.equal(events[0]!.type, 'deployment');
    const logged = events.flatMap((e) => (e.type === 'log' ? [e.line.message] : []));
    assert.ok(logged.includes('batch 2 of 2: h1, h2, h4') && logged.includes('succeeded'), logged.join('\n'));
    const last = events.at(-1)!;
    assert.equal(last.type === 'deployment' && last.deployment.status, 'succeeded');
    assert.deepEqual(await serving(), everywhere(v5, 'hello v5'));
  });

  await t.test('a server SIGKILLed in the middle of a rollout resumes it after a restart, every host accounted for', async () => {
    const start = await cli(server, ['deploy', '-t', CLUSTER, '-v', v2, '--batch', '1', '--pause', '2s', '--no-wait', '--json']);
    assert.equal(start.code, 0, start.stderr);
    const id = (JSON.parse(start.stdout) as DeploymentView[])[0]!.id;
    // Paused, it holds after the batch it is in: a known place to kill it.
    const paused = await cli(server, ['deploy', 'pause', '-t', CLUSTER]);
    assert.match(paused.stdout, new RegExp(`deploy #${id}: paused; .*\\(paused\\)`), paused.stdout + paused.stderr);
    const held = await until(
      'the deploy to hold',
      async () => {
        const d = await api.deployment(id);
        return (d.progress!.phase === 'waiting' || d.status !== 'running') && d;
      },
      60_000,
      100,
    );
    assert.equal(held.status, 'running', 'held before the last batch');
    await server.stop('SIGKILL');
    server = await startServer(data, port);
    await new Promise((r) => setTimeout(r, 1500));
    const still = await api.deployment(id);
    assert.deepEqual(
      [still.status, still.progress!.paused, still.progress!.batch],
      ['running', true, held.progress!.batch],
      'still held after the restart',
    );
    // resumed through the API (the CLI's resume is the same call): a CLI start costs seconds here
    await api.deploymentAction(id, 'resume');
    // Killed again while a batch is in flight: its hosts are switching when the server dies.
    let seen = '';
    await until(
      'the next batch in flight',
      async () => {
        const d = await api.deployment(id);
        const p = d.progress!;
        seen = `${d.status} ${p.phase} batch ${p.batch} paused=${p.paused}: ${p.log
          .slice(-6)
          .map((l) => l.message)
          .join(' / ')}`;
        if (d.status !== 'running') throw new Error(`it ended: ${seen}`);
        return p.batch > held.progress!.batch;
      },
      60_000,
      20,
    ).catch((err: Error) => assert.fail(`${err.message}; last seen: ${seen}`));
    await server.stop('SIGKILL');
    server = await startServer(data, port);
    const d = await ended(id);
    assert.equal(d.status, 'succeeded', d.message ?? '');
    assert.deepEqual(
      Object.values(d.progress!.hosts).map((h: HostProgress) => h.state),
      ['succeeded', 'succeeded', 'succeeded', 'succeeded'],
    );
    assert.ok(
      d.progress!.log.some((l) => l.message.startsWith('the server restarted; resuming (deploying')),
      d.progress!.log.map((l) => l.message).join('\n'),
    );
    assert.deepEqual(await serving(), everywhere(v2, 'hello v2'));
  });

  await t.test('rollback to a release from deploys ago switches without a download, recorded as a rollback', async () => {
    const r = await cli(server, ['rollback', '-t', CLUSTER, '--to', v1, '--batch', '100%']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const d = await newest();
    assert.deepEqual([d.kind, d.version, d.status], ['rollback', v1, 'succeeded']);
    assert.deepEqual(
      Object.values(d.progress!.hosts).map((h) => h.downloaded),
      [false, false, false, false],
      'every host had it on disk',
    );
    assert.match(r.stdout, /no download: the release was on disk/);
    const answers = await Promise.all((await api.instances(CLUSTER)).map((i) => getJson<Answer>(`http://127.0.0.1:${i.port}/`)));
    assert.deepEqual(
      answers.map((a) => [a.greeting, a.kind]),
      HOSTS.map(() => ['hello v1', 'rollback']),
    );
    const history = await api.history(CLUSTER);
    assert.deepEqual(
      history.map((h) => [h.version, h.kind, h.status]),
      [
        [v1, 'rollback', 'succeeded'],
        [v2, 'deploy', 'succeeded'],
        [v5, 'deploy', 'succeeded'],
        [history[3]!.version, 'deploy', 'rolled_back'],
        [history[4]!.version, 'deploy', 'rolled_back'],
        [v2, 'deploy', 'succeeded'],
        [v1, 'deploy', 'succeeded'],
      ],
    );
  });
});
