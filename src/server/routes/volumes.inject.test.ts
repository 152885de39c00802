/**
 * The volumes' routes through `inject()`, with a fake agent on the command channel: a list asks
 * each host that is up (a down one is reported, not asked) and shows what the caller may see; a
 * removal is the admin's or a deployer's of the volume's tag, and the agent's refusal (in use)
 * reaches the caller with its code.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentCommand, VolumeReport } from '../../api/index.js';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, type TestApp } from '../test-app.js';
import { VOLUMES_WAIT_MS } from './volumes.js';

let t: TestApp;
let agent: string;
let webViewer: string;
let webDeployer: string;
const stop = new AbortController();
const removed: string[] = [];

const vol = (tag: string, name: string, inUse: boolean): VolumeReport => ({
  name,
  tag,
  process: 'web',
  inUse,
  containers: inUse ? ['0123456789ab'] : [],
  createdAt: null,
});
const VOLUMES = [
  vol(TREE.CLUSTER, 'noops-web-free', false),
  vol(TREE.CLUSTER, 'noops-web-used', true),
  vol(TREE.MAIL_CLUSTER, 'noops-mail-x', false),
];

/** The fake agent of h1: answers its volume commands as an agent with those volumes would. */
async function fakeAgent(): Promise<void> {
  while (!stop.signal.aborted) {
    const res = await t.call(agent, 'GET', '/api/v1/agent/desired?after=-1&commands=1').catch(() => null);
    for (const cmd of (res?.json().commands ?? []) as AgentCommand[]) {
      const post = (body: unknown) => t.call(agent, 'POST', `/api/v1/agent/commands/${cmd.id}`, body);
      if (cmd.action === 'volumes') await post({ done: true, result: VOLUMES.filter((v) => !removed.includes(v.name)) });
      else if (cmd.action === 'volume-rm' && cmd.process === 'noops-web-used')
        await post({ error: { code: 'NOOPS_E_VOLUME_IN_USE', message: 'mounted by 1 container(s)', hint: 'h' } });
      else if (cmd.action === 'volume-rm') {
        removed.push(cmd.process!);
        await post({ done: true, result: VOLUMES.find((v) => v.name === cmd.process) });
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(async () => {
  t = await startTestApp({ longPollMs: 200 });
  agent = await t.agent('h1');
  await t.agent('h2'); // joined, never reporting: down
  await t.cluster(TREE.CLUSTER, ['h1']);
  await t.report(agent, { processes: [] });
  webViewer = await t.team(TREE.WEB, 'viewer');
  webDeployer = await t.team(TREE.WEB, 'deployer');
  void fakeAgent();
});
after(async () => {
  stop.abort();
  await t.close();
});

routeTest(
  'GET /api/v1/volumes',
  "each host that is up is asked; a team sees its own tags' volumes; a down host is reported, not asked",
  async () => {
    const all = (await t.call(t.adminToken, 'GET', '/api/v1/volumes')).json();
    const h1 = all.hosts.find((h: { host: string }) => h.host === 'h1');
    assert.deepEqual(
      h1.volumes.map((v: VolumeReport) => v.name),
      ['noops-web-free', 'noops-web-used', 'noops-mail-x'],
    );
    const h2 = all.hosts.find((h: { host: string }) => h.host === 'h2');
    assert.equal(h2.error.code, 'NOOPS_E_COMMAND_TIMEOUT');
    assert.match(h2.error.message, /down .* not asked/);
    const web = (await t.call(webViewer, 'GET', '/api/v1/volumes?host=h1')).json();
    assert.deepEqual(
      web.hosts.map((h: { host: string; volumes: VolumeReport[] }) => [h.host, h.volumes.map((v) => v.name)]),
      [['h1', ['noops-web-free', 'noops-web-used']]],
    );
    assertError(await t.call(webViewer, 'GET', '/api/v1/volumes?host=h2'), 404, 'NOOPS_E_HOST_UNKNOWN', 'a host the team does not see');
    assertError(await t.call(t.adminToken, 'GET', '/api/v1/volumes?nope=1'), 400, 'NOOPS_E_INPUT');
    await assertPeopleOnly(t, 'GET', '/api/v1/volumes', undefined, agent);
  },
);

routeTest(
  'DELETE /api/v1/volumes/:host/:name',
  "a deployer of the volume's tag removes it; a viewer may not; in use and unknown are refused with their codes",
  async () => {
    assertError(await t.call(webViewer, 'DELETE', '/api/v1/volumes/h1/noops-web-free'), 403, 'NOOPS_E_FORBIDDEN', 'a viewer');
    assertError(await t.call(webDeployer, 'DELETE', '/api/v1/volumes/h1/noops-mail-x'), 404, 'NOOPS_E_VOLUME_UNKNOWN', "another team's");
    assertError(await t.call(webDeployer, 'DELETE', '/api/v1/volumes/h1/noops-none'), 404, 'NOOPS_E_VOLUME_UNKNOWN');
    assertError(await t.call(webDeployer, 'DELETE', '/api/v1/volumes/h1/noops-web-used'), 409, 'NOOPS_E_VOLUME_IN_USE');
    assertError(await t.call(t.adminToken, 'DELETE', '/api/v1/volumes/nohost/noops-web-free'), 404, 'NOOPS_E_HOST_UNKNOWN');
    // a host the team does not see is unknown to it (its agent is not asked), as for the list
    assertError(
      await t.call(webDeployer, 'DELETE', '/api/v1/volumes/h2/noops-web-free'),
      404,
      'NOOPS_E_HOST_UNKNOWN',
      'a host the team does not see',
    );
    // a down host is not asked: said at once, not after the agent's 10 s
    const t0 = Date.now();
    const down = await t.call(t.adminToken, 'DELETE', '/api/v1/volumes/h2/noops-web-free');
    assertError(down, 504, 'NOOPS_E_COMMAND_TIMEOUT');
    assert.match(down.json().message, /host h2 is down .* not asked/);
    assert.ok(Date.now() - t0 < VOLUMES_WAIT_MS, 'not after the wait for an answer');
    assertError(await t.call(t.adminToken, 'DELETE', '/api/v1/volumes/h1/..bad'), 400, 'NOOPS_E_INPUT');
    const res = await t.call(webDeployer, 'DELETE', '/api/v1/volumes/h1/noops-web-free');
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { host: 'h1', name: 'noops-web-free', tag: TREE.CLUSTER });
    assert.deepEqual(removed, ['noops-web-free']);
    await assertPeopleOnly(t, 'DELETE', '/api/v1/volumes/h1/noops-web-free', undefined, agent);
  },
);
