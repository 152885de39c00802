/**
 * A report the server answered stands for a heartbeat: the next heartbeat goes a whole period
 * after it, not on the old beat. Against a stand-in server that answers every report and notes
 * when each came; the test sends reports itself (as a deploy's changes would) faster than the
 * heartbeat period, then stops and waits for the next heartbeat.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from './agent.js';
import { until } from './balancers/test-daemons.js';

const HEARTBEAT_MS = 2000;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('reports the server answered take the place of the heartbeats; the next one comes a period after the last', async () => {
  /** when each report came, and when its answer was sent (performance.now(), this process) */
  const reports: { at: number; answeredAt?: number }[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url!, 'http://x');
    req.resume();
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (url.pathname === '/api/v1/agent/join') return send(200, { token: 't0k', heartbeatMs: HEARTBEAT_MS });
      if (url.pathname === '/api/v1/agent/report') {
        const r: { at: number; answeredAt?: number } = { at: performance.now() };
        reports.push(r);
        send(200, { generation: 0 });
        r.answeredAt = performance.now();
        return;
      }
      if (url.pathname === '/api/v1/agent/desired') return; // held: the agent's stop cuts it
      send(404, { code: 'NOOPS_E_NOT_FOUND', message: `no route ${req.method} ${url.pathname}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const root = mkdtempSync(join(tmpdir(), 'noops-heartbeat-'));
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
  });
  try {
    await agent.start();
    await until('the first heartbeat was answered', () => reports[0]?.answeredAt !== undefined);
    // Reports every 100 ms for two and a half heartbeat periods: the beat alone would add two or more.
    const first = reports.length;
    let sent = 0;
    const end = performance.now() + 2.5 * HEARTBEAT_MS;
    while (performance.now() < end) {
      await agent.report();
      sent++;
      await new Promise((r) => setTimeout(r, 100));
    }
    const extra = reports.length - first - sent;
    // one may come from a stall of a whole period between two reports on a loaded machine, not two
    assert.ok(extra <= 1, `${extra} heartbeats went between ${sent} reports sent every 100 ms (period ${HEARTBEAT_MS} ms)`);
    const last = reports[reports.length - 1]!;
    const count = reports.length;
    await until('the next heartbeat came', () => reports.length > count, 5 * HEARTBEAT_MS);
    const gap = reports[count]!.at - last.answeredAt!;
    // a timer fires a period after the answer was read, never sooner (1 ms: a timer's rounding)
    assert.ok(gap >= HEARTBEAT_MS - 1, `the heartbeat came ${gap.toFixed(0)} ms after the last report was answered`);
  } finally {
    await agent.stop();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
