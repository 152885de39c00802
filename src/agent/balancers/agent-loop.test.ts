/**
 * The agent's protocol for load balancers, against a stand-in server: the long poll passes
 * `balancers=INDEX` (0 at first, then the index it got), the pools in the answer are applied
 * and reported with POST /agent/balancers; a server that refuses the parameter (one from before
 * load balancers) is polled without it, and the agent goes on as before.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BalancerReportBody, DesiredState } from '../../api/index.js';
import { Agent } from '../agent.js';
import { until } from './test-daemons.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Seen {
  polls: URLSearchParams[];
  reports: BalancerReportBody[];
}

/** A server that joins the agent and answers its polls with `answer` (null: hold the poll until the end). */
async function standIn(answer: (q: URLSearchParams, n: number) => { status: number; body: unknown } | null) {
  const seen: Seen = { polls: [], reports: [] };
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url!, 'http://x');
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      if (url.pathname === '/api/v1/agent/join') return send(res, 200, { token: 't0k', heartbeatMs: 60_000 });
      if (url.pathname === '/api/v1/agent/report') return send(res, 200, { generation: 1 });
      if (url.pathname === '/api/v1/agent/balancers') {
        seen.reports.push(JSON.parse(text) as BalancerReportBody);
        return send(res, 200, {});
      }
      if (url.pathname === '/api/v1/agent/desired') {
        seen.polls.push(url.searchParams);
        const a = answer(url.searchParams, seen.polls.length);
        if (a) send(res, a.status, a.body);
        return; // held: the agent's stop cuts it
      }
      send(res, 404, { code: 'NOOPS_E_NOT_FOUND', message: `no route ${req.method} ${url.pathname}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    seen,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function agentOn(url: string): Agent {
  const root = mkdtempSync(join(tmpdir(), 'noops-lb-agent-'));
  dirs.push(root);
  return new Agent({ server: url, joinToken: 'join', root, name: 'lb1', labels: {}, log: () => {}, ctl: false, hostMetrics: false });
}

test('the poll passes balancers=INDEX; the pools are applied and reported', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-lb-files-'));
  dirs.push(dir);
  const file = join(dir, 'web.conf');
  const state: DesiredState = {
    generation: 1,
    instances: [],
    balancers: {
      index: 42,
      pools: [
        {
          name: 'web',
          driver: 'nginx',
          file,
          pidFile: join(dir, 'nginx.pid'),
          members: [
            { id: 'h1_web_job', address: '10.0.0.5', port: 8080, state: 'ready', host: 'h1', tag: 't', version: 'abcdef1', process: 'web' },
          ],
        },
      ],
    },
  };
  const server = await standIn((q) => (q.get('balancers') === '42' ? null : { status: 200, body: state }));
  const agent = agentOn(server.url);
  try {
    await agent.start();
    await until('the report of the pool', () => server.seen.reports.length >= 1);
    await until('the poll with the index', () => server.seen.polls.some((q) => q.get('balancers') === '42'));
    assert.equal(server.seen.polls[0]!.get('balancers'), '0', 'the first poll passes 0');
    const [report] = server.seen.reports[0]!.reports;
    assert.equal(report!.name, 'web');
    assert.equal(report!.index, 42);
    assert.equal(report!.ok, false, 'no nginx runs here: the reload could not be sent');
    assert.match(report!.error!, /nginx is not running/);
    assert.deepEqual(report!.members, [{ id: 'h1_web_job', state: 'ready', connections: null }]);
    assert.match(readFileSync(file, 'utf8'), /upstream web \{\n {4}server 10\.0\.0\.5:8080; # h1_web_job ready\n\}/);
  } finally {
    await agent.stop();
    await server.close();
  }
});

test('a server that refuses ?balancers= is polled without it', async () => {
  const server = await standIn((q, n) => {
    if (q.has('balancers'))
      return { status: 400, body: { code: 'NOOPS_E_INPUT', message: 'desired state: unknown parameter "balancers"', hint: '' } };
    return n <= 2 ? { status: 200, body: { generation: 1, instances: [] } } : null;
  });
  const agent = agentOn(server.url);
  try {
    await agent.start();
    await until('a poll without the parameter, held', () => server.seen.polls.length >= 3);
    assert.deepEqual(
      server.seen.polls.map((q) => q.get('balancers')),
      ['0', null, null],
    );
    assert.deepEqual(server.seen.reports, []);
  } finally {
    await agent.stop();
    await server.close();
  }
});
