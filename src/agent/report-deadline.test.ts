/**
 * A report the server does not answer is given up after the agent's deadline, and the heartbeats
 * go on: against a stand-in server that holds the first report forever and answers the rest.
 * Before the deadline, the heartbeat loop waited on that one answer and the host went quiet.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from './agent.js';
import { until } from './balancers/test-daemons.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('a report left unanswered is given up after the deadline, and the next heartbeats reach the server', async () => {
  let held = 0;
  let answered = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url!, 'http://x');
    req.resume();
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (url.pathname === '/api/v1/agent/join') return send(200, { token: 't0k', heartbeatMs: 100 });
      if (url.pathname === '/api/v1/agent/report') {
        if (held === 0) {
          held++;
          return; // never answered
        }
        answered++;
        return send(200, { generation: 0 });
      }
      if (url.pathname === '/api/v1/agent/desired') return; // held: the agent's stop cuts it
      send(404, { code: 'NOOPS_E_NOT_FOUND', message: `no route ${req.method} ${url.pathname}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const root = mkdtempSync(join(tmpdir(), 'noops-report-deadline-'));
  dirs.push(root);
  const agent = new Agent({
    server: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    joinToken: 'join',
    root,
    name: 'h1',
    labels: {},
    log: () => {},
    ctl: false,
    hostMetrics: false,
    reportAnswerMs: 300,
  });
  try {
    await agent.start();
    await until('the first report reached the server and was held', () => held === 1);
    await until('later heartbeats were sent and answered while the first stays unanswered', () => answered >= 2);
    assert.equal(held, 1);
  } finally {
    await agent.stop();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
