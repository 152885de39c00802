/**
 * Loaded into the naming benchmark's server (`node --import bench/naming/wake-probe.mjs`): it
 * times the server's own part of a change, apart from the watchers that share its cores. It
 * subscribes to two diagnostics channels: Node's `http.server.request.start` (a request's headers
 * parsed: the moment an agent's report arrives) and noops' `noops:naming:wake` (published by
 * src/naming/view.ts after each change that woke watchers, with when the change reached the view
 * and when the last answer was handed to its socket), and appends one JSON line per wake to the
 * file in NOOPS_BENCH_NAMING_WAKES:
 *
 *   {generation, woken, questions, arrivedAt, startedAt, endedAt, cpuMs}
 *
 * arrivedAt: the last report's arrival before the wake; cpuMs: the server's CPU (user + system)
 * from that arrival to the last write. Times are absolute ms (performance.timeOrigin + now), the
 * clock the watchers use. Plain JavaScript: node loads it before the server, without tsx.
 */
import { appendFileSync } from 'node:fs';
import { subscribe } from 'node:diagnostics_channel';

const file = process.env.NOOPS_BENCH_NAMING_WAKES;
const REPORT = '/api/v1/agent/report';
let arrivedAt = Number.NaN;
let cpuAtArrival = process.cpuUsage();

if (file) {
  subscribe('http.server.request.start', ({ request }) => {
    if (request.method !== 'POST' || request.url !== REPORT) return;
    arrivedAt = performance.timeOrigin + performance.now();
    cpuAtArrival = process.cpuUsage();
  });
  subscribe('noops:naming:wake', (wake) => {
    const cpu = process.cpuUsage(cpuAtArrival);
    appendFileSync(file, `${JSON.stringify({ ...wake, arrivedAt, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
  });
}
