/**
 * Loaded into the load-balancer benchmark's agents and server (NODE_OPTIONS=--import=THIS): it times the
 * path of a join inside noops, which the observers cannot see. It subscribes to two diagnostics
 * channels and appends one JSON line per message to the file in NOOPS_BENCH_BALANCERS_TRACE:
 *
 *   {kind: 'report', host, sentAt, answeredAt, processes: [{port, pid, state, health, healthySince, startedAt}]}
 *       noops:agent:report (src/agent/report-pacer.ts): a report the server took, and the
 *       processes with a port in it (healthySince: the health check's first success; startedAt: its start)
 *   {kind: 'apply', pool, driver, index, offeredAt, startedAt, endedAt, periodic, ok}
 *       noops:balancers:apply (src/agent/balancers/loop.ts): one pool's apply on the balancer's
 *       host; offeredAt: when the desired-state poll's answer brought its index
 *   {kind: 'index', host, index, at, members: [[pool, [[port, state], ...]], ...]}
 *       noops:balancers:index (src/balance/view.ts, in the server): a balancer host's index moved
 *       and its parked poll was woken
 *   {kind: 'answered', from, at}
 *       http.server.response.finish (node's, in the server): a desired-state poll that asked with
 *       `balancers=FROM` was answered (its last byte handed to the socket): index → answered is the
 *       server's work after the wake, answered → offer the wire and the agent
 *
 * Times are ms since the epoch (Date.now()), the observers' clock. Plain JavaScript: node loads
 * it before the agent or the server, without tsx. Without the variable it does nothing (the
 * agent's own processes inherit NODE_OPTIONS too).
 */
import { appendFileSync } from 'node:fs';
import { subscribe } from 'node:diagnostics_channel';

const file = process.env.NOOPS_BENCH_BALANCERS_TRACE;

if (file) {
  subscribe('noops:agent:report', (r) => {
    const processes = r.processes
      .filter((p) => p.port !== null)
      .map((p) => ({ port: p.port, pid: p.pid, state: p.state, health: p.health, healthySince: p.healthySince, startedAt: p.startedAt }));
    appendFileSync(file, `${JSON.stringify({ kind: 'report', host: r.host, sentAt: r.sentAt, answeredAt: r.answeredAt, processes })}\n`);
  });
  subscribe('noops:balancers:apply', (a) => {
    appendFileSync(file, `${JSON.stringify({ kind: 'apply', ...a })}\n`);
  });
  subscribe('noops:balancers:index', (i) => {
    appendFileSync(file, `${JSON.stringify({ kind: 'index', ...i })}\n`);
  });
  subscribe('http.server.response.finish', ({ request }) => {
    const m = /^\/api\/v1\/agent\/desired\?.*\bbalancers=(\d+)/.exec(request.url ?? '');
    if (m) appendFileSync(file, `${JSON.stringify({ kind: 'answered', from: Number(m[1]), at: Date.now() })}\n`);
  });
}
