import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { seriesKey, type CounterType } from '../../api/index.js';
import type { HistoryAnswer, HistoryQuery, StoredPoint } from '../metrics/ports.js';
import { chooseResolution, VictoriaMetricsBackend } from './backend.js';
import { type RunningVictoria, startVictoria, victoriaMissing } from './test-victoria.js';

const skip = victoriaMissing();
let vm: RunningVictoria;
before(async () => {
  if (!skip) vm = await startVictoria();
});
after(async () => {
  await vm?.dispose();
});

/** Two hours of one point a minute, ending before the current hour (within VictoriaMetrics' retention). */
const STEP = 60;
const BASE = Math.floor(Date.now() / 1000 / 3600) * 3600 - 3 * 3600;
const N = 120;

function series(endpoint: string, metric: string, tags: string, counterType: CounterType, value: (i: number) => number): StoredPoint[] {
  return Array.from({ length: N }, (_, i) => ({
    key: seriesKey(endpoint, metric, tags),
    endpoint,
    metric,
    tags,
    counterType,
    step: STEP,
    timestamp: BASE + i * STEP,
    value: value(i),
  }));
}

function queryOf(p: StoredPoint, resolution?: number): HistoryQuery {
  const { key, endpoint, metric, tags, counterType } = p;
  return { key, endpoint, metric, tags, counterType, from: BASE, to: BASE + N * STEP - 1, resolution };
}

/** Asks until the answer holds `rows` rows (VictoriaMetrics makes points searchable within about a second). */
async function until(backend: VictoriaMetricsBackend, q: HistoryQuery, rows: number): Promise<HistoryAnswer> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    await vm.flush();
    const answer = await backend.query(q);
    if (answer.points.length >= rows || Date.now() > deadline) return answer;
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a gauge written, then read back raw and at 5 minutes (avg, min, max of each window)', { skip }, async () => {
  const backend = new VictoriaMetricsBackend({ url: vm.url, log: () => {} });
  const points = series('h1', 'cpu.idle', '', 'GAUGE', (i) => i % 10);
  await backend.write(points);
  await backend.flush();
  assert.equal(backend.stats().sent, N);

  const raw = await until(backend, queryOf(points[0]!, STEP), N);
  assert.equal(raw.resolution, STEP);
  assert.deepEqual(
    raw.points,
    points.map((p) => [p.timestamp, p.value, p.value, p.value]),
  );

  const five = await until(backend, queryOf(points[0]!, 300), N / 5);
  assert.equal(five.resolution, 300);
  assert.equal(five.points.length, N / 5);
  for (const [ts, avg, min, max] of five.points) {
    const inWindow = points.filter((p) => p.timestamp >= ts && p.timestamp < ts + 300).map((p) => p.value);
    assert.equal(inWindow.length, 5, `window at ${ts}`);
    assert.ok(Math.abs(avg - inWindow.reduce((a, b) => a + b) / 5) < 1e-9, `avg at ${ts}`);
    assert.equal(min, Math.min(...inWindow));
    assert.equal(max, Math.max(...inWindow));
  }
  // unasked, two hours of minutes is raw (at most 1,000 rows)
  assert.equal((await backend.query(queryOf(points[0]!))).resolution, STEP);
  await backend.close();
});

test("Falcon's names become Prometheus': cpu.idle -> cpu_idle, the endpoint and each tag a label, the originals kept", {
  skip,
}, async () => {
  const backend = new VictoriaMetricsBackend({ url: vm.url, log: () => {} });
  const points = series('web-1', 'df.bytes.free.percent', 'fstype=ext4,mount=/var/lib', 'GAUGE', () => 42);
  await backend.write(points);
  await backend.flush();
  await until(backend, queryOf(points[0]!, STEP), N);
  // with its time range: without one VictoriaMetrics lists only the series of the day since 00:00
  // UTC, and BASE is three hours back (the test failed between midnight and 3 am UTC)
  const res = await fetch(`${vm.url}/api/v1/series?match[]=df_bytes_free_percent&start=${BASE}&end=${BASE + N * STEP}`);
  const body = (await res.json()) as { data: Record<string, string>[] };
  assert.deepEqual(body.data, [
    {
      __name__: 'df_bytes_free_percent',
      endpoint: 'web-1',
      falcon_metric: 'df.bytes.free.percent',
      falcon_step: '60',
      falcon_tags: 'fstype=ext4,mount=/var/lib',
      fstype: 'ext4',
      mount: '/var/lib',
    },
  ]);
  await backend.close();
});

test('a COUNTER is read as its rate per second, raw and rolled up', { skip }, async () => {
  const backend = new VictoriaMetricsBackend({ url: vm.url, log: () => {} });
  // 120 bytes a minute (2/s) until the middle, then 600 a minute (10/s)
  const points = series('h1', 'net.if.in.bytes', 'iface=eth0', 'COUNTER', (i) => (i < 60 ? i * 120 : 59 * 120 + (i - 59) * 600));
  await backend.write(points);
  await backend.flush();
  const raw = await until(backend, queryOf(points[0]!, STEP), N - 1);
  assert.equal(raw.points.length, N - 1); // the first point has no rate
  assert.deepEqual(raw.points[0], [BASE + STEP, 2, 2, 2]);
  assert.deepEqual(raw.points.at(-1), [BASE + (N - 1) * STEP, 10, 10, 10]);

  const twenty = await until(backend, queryOf(points[0]!, 1200), N / 20);
  assert.equal(twenty.resolution, 1200);
  const rows = twenty.points.filter(([ts]) => ts >= BASE + 1200 && ts + 1200 <= BASE + N * STEP);
  assert.ok(rows.length >= 4, JSON.stringify(twenty.points));
  for (const [ts, avg, min, max] of rows) {
    const want = ts < BASE + 3600 ? 2 : 10;
    assert.ok(
      Math.abs(avg - want) < 1e-6 && Math.abs(min - want) < 1e-6 && Math.abs(max - want) < 1e-6,
      `row at ${ts}: ${avg} ${min} ${max}`,
    );
  }
  await backend.close();
});

test('a COUNTER that goes down (a restart) has no rate at that point, raw, as in Falcon', { skip }, async () => {
  const backend = new VictoriaMetricsBackend({ url: vm.url, log: () => {} });
  const points = series('h4', 'net.if.out.bytes', 'iface=eth0', 'COUNTER', (i) => (i < 10 ? 1000 + i * 60 : (i - 10) * 60));
  await backend.write(points);
  await backend.flush();
  const raw = await until(backend, queryOf(points[0]!, STEP), N - 2);
  assert.equal(raw.points.length, N - 2);
  assert.ok(!raw.points.some(([ts]) => ts === BASE + 10 * STEP));
  assert.ok(raw.points.every(([, avg]) => avg === 1));
  await backend.close();
});

test('a DERIVE is read as its signed rate: a decrease is a negative rate, not a reset', { skip }, async () => {
  const backend = new VictoriaMetricsBackend({ url: vm.url, log: () => {} });
  // up 120 a minute (2/s) until the middle, then down 60 a minute (-1/s)
  const points = series('h1', 'queue.length', '', 'DERIVE', (i) => (i < 60 ? i * 120 : 59 * 120 - (i - 59) * 60));
  await backend.write(points);
  await backend.flush();
  const raw = await until(backend, queryOf(points[0]!, STEP), N - 1);
  assert.deepEqual(raw.points[0], [BASE + STEP, 2, 2, 2]);
  assert.deepEqual(raw.points.at(-1), [BASE + (N - 1) * STEP, -1, -1, -1]);
  const twenty = await until(backend, queryOf(points[0]!, 1200), N / 20);
  const rows = twenty.points.filter(([ts]) => ts >= BASE + 1200 && ts + 1200 <= BASE + N * STEP);
  assert.ok(rows.length >= 4, JSON.stringify(twenty.points));
  for (const [ts, avg, min, max] of rows) {
    const want = ts < BASE + 3600 ? 2 : -1;
    assert.ok(
      Math.abs(avg - want) < 1e-6 && Math.abs(min - want) < 1e-6 && Math.abs(max - want) < 1e-6,
      `row at ${ts}: ${avg} ${min} ${max}`,
    );
  }
  await backend.close();
});

test('a series never written answers no points', { skip }, async () => {
  const backend = new VictoriaMetricsBackend({ url: vm.url, log: () => {} });
  const answer = await backend.query({
    key: 'nope/x',
    endpoint: 'nope',
    metric: 'x',
    tags: '',
    counterType: 'GAUGE',
    from: BASE,
    to: BASE + 60,
  });
  assert.deepEqual(answer.points, []);
  await backend.close();
});

test('VictoriaMetrics down: writes return at once, the points wait in the buffer and go when it is back', { skip }, async () => {
  const lines: string[] = [];
  const backend = new VictoriaMetricsBackend({ url: vm.url, log: (l) => lines.push(l), retryFirstMs: 50, retryMaxMs: 200 });
  await vm.stop();
  try {
    const points = series('h2', 'load.1min', '', 'GAUGE', (i) => i / 10);
    const started = Date.now();
    await backend.write(points);
    assert.ok(Date.now() - started < 100, 'write waited on VictoriaMetrics');
    await backend.flush();
    const down = backend.stats();
    assert.ok(down.failures >= 1);
    assert.equal(down.buffered, N);
    assert.equal(down.sent, 0);
    assert.match(lines.join(''), /VictoriaMetrics did not take 120 point\(s\), retrying/);
    // retried on its own while down
    const deadline = Date.now() + 10_000;
    while (backend.stats().failures < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(backend.stats().failures >= 3, 'the import was not retried');
    await assert.rejects(backend.query(queryOf(points[0]!, STEP)), { code: 'NOOPS_E_HISTORY_BACKEND' });

    await vm.restart();
    const back = Date.now() + 10_000;
    while (backend.stats().sent < N && Date.now() < back) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(
      { ...backend.stats(), failures: 0, lastError: undefined },
      { buffered: 0, sent: N, dropped: 0, failures: 0, lastError: undefined },
    );
    const raw = await until(backend, queryOf(points[0]!, STEP), N);
    assert.equal(raw.points.length, N);
    assert.match(lines.join(''), /takes points again/);
  } finally {
    await vm.restart().catch(() => {});
    await backend.close();
  }
});

test('the buffer is bounded: past it, the oldest points are dropped and counted', async () => {
  // nothing listens on port 9 of 127.0.0.1 (discard): every import fails
  const backend = new VictoriaMetricsBackend({ url: 'http://127.0.0.1:9', log: () => {}, maxBuffered: 50, retryFirstMs: 60_000 });
  const points = series('h3', 'mem.memfree', '', 'GAUGE', (i) => i);
  await backend.write(points.slice(0, 40));
  await backend.write(points.slice(40, 80));
  await backend.flush();
  const stats = backend.stats();
  assert.equal(stats.buffered, 50);
  assert.equal(stats.dropped, 30);
  await backend.close();
});

test('the resolution unasked: the finest that keeps the answer to 1,000 rows', () => {
  assert.equal(chooseResolution({ from: 0, to: 3600 }, 60), 60);
  assert.equal(chooseResolution({ from: 0, to: 2 * 86400 }, 60), 300);
  assert.equal(chooseResolution({ from: 0, to: 7 * 86400 }, 60), 1200);
  assert.equal(chooseResolution({ from: 0, to: 93 * 86400 }, 60), 10800);
  assert.equal(chooseResolution({ from: 0, to: 5 * 365 * 86400 }, 60), 43200);
  assert.equal(chooseResolution({ from: 0, to: 3600, resolution: 1200 }, 60), 1200);
});
