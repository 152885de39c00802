/**
 * TLS end to end: a real `noops server --tls auto` and a real agent that verifies it with `--ca`.
 * Build, deploy (followed over the SSE stream), ps, logs, a restart of the agent that remembers
 * its CA, and the web console all go over https; an agent or a CLI without the CA, or with
 * another CA, refuses the server (no host joins, no request is served); plain http to the TLS
 * port gets no answer; a server on 0.0.0.0 without TLS refuses to start, and starts with
 * --insecure.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Agent as Dispatcher, fetch as pinnedFetch } from 'undici';
import type { DeploymentView, HostView, InstanceView } from '../../src/api/index.js';
import { ApiClient } from '../../src/api/index.js';
import { ensureAutoTls, autoTlsFiles } from '../../src/tls/server-tls.js';
import {
  NOOPS,
  cleanup,
  cli,
  freePort,
  killSupervised,
  makeAppRepo,
  startServer,
  tmp,
  until,
  walkableTo,
  type Proc,
  type ServerProc,
} from './harness.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.api_job.web';
const CLUSTER = `${JOB}_cluster.tls`;

const base = tmp('tls');
const data = join(base, 'server');
const root = join(base, 'agent-h1');
const procs: Proc[] = [];
let server: ServerProc;
let ca: string;

after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await server?.stop();
  killSupervised(root);
  cleanup([base]);
});

/** Starts bin/noops with these arguments (the harness's agent takes no --ca). */
function launch(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [NOOPS, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr!.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const p: Proc = {
    child,
    output: () => out,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
  procs.push(p);
  return p;
}

function exited(p: Proc): Promise<number> {
  return new Promise((resolve) => {
    if (p.child.exitCode !== null) return resolve(p.child.exitCode);
    p.child.once('exit', (code) => resolve(code ?? 1));
  });
}

function agent(name: string, agentRoot: string, extra: string[]): Proc {
  walkableTo(agentRoot); // its processes run as the agent's unprivileged user: the temp folders above must let it through
  return launch([
    'agent',
    '--server',
    server.url,
    '--join-token',
    server.joinToken,
    '--root',
    agentRoot,
    '--name',
    name,
    '--push-listen',
    '127.0.0.1:0',
    ...extra,
  ]);
}

/** The CLI against the TLS server, with the CA (NOOPS_CA) unless told otherwise. */
function tlsCli(args: string[], env: Record<string, string> = {}): ReturnType<typeof cli> {
  return cli(server, args, { env: { NOOPS_CA: join(data, 'tls', 'ca.pem'), ...env } });
}

async function tlsJson<T>(args: string[]): Promise<T> {
  const r = await tlsCli([...args, '--json']);
  if (r.code !== 0) throw new Error(`noops ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

test('a fleet over TLS: a local CA, an agent that pins it, and everything that refuses without it', async (t) => {
  const port = await freePort();
  server = await startServer(data, port, ['--tls', 'auto']);
  server.url = `https://127.0.0.1:${port}`;
  ca = readFileSync(join(data, 'tls', 'ca.pem'), 'utf8');

  await t.test('the join output names the CA and its fingerprint; the key files are 0600', () => {
    const out = server.output();
    assert.match(out, new RegExp(`listening on https://127\\.0\\.0\\.1:${port}`));
    assert.ok(out.includes(`CA for agents and the CLI: ${join(data, 'tls', 'ca.pem')}`), out);
    assert.ok(out.includes(`sha256 ${new X509Certificate(ca).fingerprint256}`), out);
    assert.match(out, /an agent joins with: noops agent --server https:\/\/127\.0\.0\.1:\d+ --ca ca\.pem/);
    const f = autoTlsFiles(data);
    for (const file of [f.caKey, f.key]) assert.equal(statSync(file).mode & 0o777, 0o600, file);
    assert.equal(statSync(f.dir).mode & 0o777, 0o700);
  });

  const h1 = agent('h1', root, ['--ca', join(data, 'tls', 'ca.pem'), '--labels', 'rack=r1']);
  await t.test('an agent with --ca joins, and keeps the CA beside its identity', async () => {
    await until('h1 up', async () => (await tlsJson<HostView[]>(['hosts'])).some((h) => h.name === 'h1' && h.status === 'up'), 30_000);
    assert.equal(readFileSync(join(root, 'server-ca.pem'), 'utf8'), ca);
  });

  const repo = join(base, 'repo');
  const c1 = makeAppRepo(repo).commit('hello over tls');
  const v1 = c1.slice(0, 9);

  await t.test('build, deploy (followed over the event stream), ps and logs over https', async () => {
    const b = await tlsCli(['build', '-u', `file://${repo}`, '-t', JOB, '-v', c1]);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.equal((await tlsCli(['cluster', 'set', '-t', CLUSTER, '--hosts', 'h1'])).code, 0);
    const d = await tlsCli(['deploy', '-t', CLUSTER, '-v', v1]);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.match(d.stdout, /succeeded/);
    const ps = await tlsJson<InstanceView[]>(['ps', '-t', CLUSTER]);
    assert.deepEqual(
      ps.map((p) => [p.host, p.version, p.state]),
      [['h1', v1, 'up']],
    );
    const answer = (await (await fetch(`http://127.0.0.1:${ps[0]!.port}/`)).json()) as { greeting: string };
    assert.equal(answer.greeting, 'hello over tls');
    const logs = await tlsCli(['logs', '-t', CLUSTER, '--host', 'h1', '-n', '5']);
    assert.equal(logs.code, 0, logs.stderr);
  });

  await t.test("the deployment's SSE stream, read with the API client pinned to the CA", async () => {
    const [last] = await tlsJson<DeploymentView[]>(['history', '-t', CLUSTER]);
    const api = new ApiClient(server.url, server.adminToken, { ca });
    const kinds: string[] = [];
    for await (const e of api.deploymentEvents(last!.id)) kinds.push(e.type);
    assert.equal(kinds[0], 'deployment');
  });

  await t.test('the web console is served over https with the same certificate', async () => {
    const dispatcher = new Dispatcher({ connect: { ca } });
    try {
      const res = await pinnedFetch(`${server.url}/`, { dispatcher });
      assert.equal(res.status, 200);
      assert.match(await res.text(), /<title>noops<\/title>/);
    } finally {
      await dispatcher.close();
    }
  });

  await t.test('a restarted agent needs no --ca: it remembered the CA', async () => {
    await h1.stop();
    const again = agent('h1', root, ['--labels', 'rack=r1']);
    await until('h1 reporting again', () => again.output().includes('noops agent h1 running'), 30_000);
    const before = (await tlsJson<HostView[]>(['hosts'])).find((h) => h.name === 'h1')!;
    await until(
      'a new heartbeat',
      async () => {
        const now = (await tlsJson<HostView[]>(['hosts'])).find((h) => h.name === 'h1')!;
        return now.status === 'up' && now.lastHeartbeat !== before.lastHeartbeat;
      },
      30_000,
    );
  });

  await t.test('an agent without the CA, or with another CA, refuses the server: it exits and never joins', async () => {
    const other = join(base, 'other-ca');
    await ensureAutoTls(other, { dns: ['localhost'], ips: ['127.0.0.1'] });
    const runs = [
      agent('intruder1', join(base, 'agent-x1'), []),
      agent('intruder2', join(base, 'agent-x2'), ['--ca', autoTlsFiles(other).caCert]),
    ];
    for (const p of runs) {
      assert.equal(await exited(p), 1, p.output());
      assert.match(p.output(), /NOOPS_E_TLS_UNTRUSTED/);
      assert.match(p.output(), /nothing was sent/);
    }
    assert.deepEqual(
      (await tlsJson<HostView[]>(['hosts'])).map((h) => h.name),
      ['h1'],
      'no join reached the server',
    );
    assert.equal(existsSync(join(base, 'agent-x1', 'agent.json')), false);
    assert.equal(existsSync(join(base, 'agent-x2', 'server-ca.pem')), false, 'a CA that failed is not remembered');
  });

  await t.test('the CLI without the CA, or with another CA, refuses with a clear error', async () => {
    const audit = await tlsJson<unknown[]>(['audit']);
    for (const env of [{ NOOPS_CA: '' }, { NOOPS_CA: autoTlsFiles(join(base, 'other-ca')).caCert }]) {
      const r = await cli(server, ['cluster', 'set', '-t', `${JOB}_cluster.evil`, '--hosts', 'h1'], { env });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /refused to talk to https:\/\/127\.0\.0\.1:\d+: its TLS certificate/);
      assert.match(r.stderr, /NOOPS_E_TLS_UNTRUSTED\) give the CA/);
    }
    assert.deepEqual(await tlsJson<unknown[]>(['audit']), audit, 'the server recorded nothing');
    assert.ok(!(await tlsJson<{ tag: string }[]>(['cluster', 'ls'])).some((c) => c.tag.endsWith('cluster.evil')));
  });

  await t.test('plain http to the TLS port gets no answer', async () => {
    const r = await cli({ url: `http://127.0.0.1:${port}`, adminToken: server.adminToken }, ['hosts']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /NOOPS_E_SERVER_UNREACHABLE\) the server closed the connection: if it runs with --tls, its address is https:/);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/api/v1/whoami`));
  });
});

test('a server on 0.0.0.0 without TLS refuses to start (and creates nothing); with --insecure it starts and warns', async () => {
  const port = await freePort();
  const dir = join(base, 'open');
  const refused = launch(['server', '--data', dir, '--listen', `0.0.0.0:${port}`]);
  assert.equal(await exited(refused), 1);
  assert.match(refused.output(), /refusing to serve plain HTTP on 0\.0\.0\.0:\d+/);
  assert.match(refused.output(), /NOOPS_E_TLS_REQUIRED\) serve with TLS: --tls auto/);
  assert.deepEqual(existsSync(dir) ? readdirSync(dir) : [], [], 'no database, no tokens');

  const insecure = launch(['server', '--data', dir, '--listen', `0.0.0.0:${port}`, '--insecure', '--heartbeat-ms', '300']);
  await until('the insecure server to listen', () => insecure.output().includes('listening on http://0.0.0.0'), 30_000);
  assert.match(insecure.output(), /warning: serving plain HTTP on 0\.0\.0\.0:\d+ \(--insecure\)/);
  const whoami = await new ApiClient(`http://127.0.0.1:${port}`, readFileSync(join(dir, 'admin.token'), 'utf8').trim()).whoami();
  assert.ok(whoami);
  await insecure.stop();
});
