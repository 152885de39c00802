import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { seriesKey } from '../api/index.js';
import type { HistoryBackend, StoredPoint } from '../monitor/victoria/index.js';
import { startVictoria, victoriaMissing } from '../monitor/victoria/test-victoria.js';
import { startServer } from './index.js';
import { historyBackends, openVictoria } from './victoria-wiring.js';

const embedded: HistoryBackend = {
  name: 'store',
  write: async () => {},
  query: async () => ({ resolution: 60, points: [] }),
};

test('without --victoria-metrics the embedded store alone is written and read; with it, VictoriaMetrics is a sink too and the one read', () => {
  // the embedded store is written by the ingestion itself: no sink besides it without VictoriaMetrics
  assert.deepEqual(historyBackends({ embedded }), { sinks: [], reader: embedded });
  const victoria = openVictoria('http://127.0.0.1:8428', () => {});
  assert.ok(victoria);
  const both = historyBackends({ embedded, victoria });
  assert.deepEqual(both.sinks, [victoria]);
  assert.equal(both.reader, victoria);
  assert.equal(
    openVictoria(undefined, () => {}),
    undefined,
  );
});

test('--victoria-metrics must be an http(s) base URL', () => {
  for (const bad of ['127.0.0.1:8428', 'ftp://vm:21', 'nonsense', 'http://vm:8428/?x=1'])
    assert.throws(() => openVictoria(bad, () => {}), { code: 'NOOPS_E_INPUT' }, bad);
});

test('noops server --victoria-metrics nonsense: NOOPS_E_INPUT, exit 1, nothing created', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'noops-vmflag-'));
  const data = join(parent, 'data');
  try {
    const bin = join(import.meta.dirname, '..', '..', 'bin', 'noops');
    const child = spawn(process.execPath, [bin, 'server', '--data', data, '--victoria-metrics', 'vm:8428'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 1, stderr);
    assert.match(stderr, /--victoria-metrics "vm:8428" must be VictoriaMetrics' base URL, such as http:\/\/127\.0\.0\.1:8428/);
    assert.match(stderr, /NOOPS_E_INPUT/);
    assert.equal(existsSync(data), false);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('noops server --victoria-metrics URL: points written reach VictoriaMetrics, and GET /metrics shows the writer', {
  skip: victoriaMissing(),
}, async () => {
  const vm = await startVictoria();
  const dir = mkdtempSync(join(tmpdir(), 'noops-vmserver-'));
  const server = await startServer({ dataDir: dir, listen: '127.0.0.1:0', buildSandbox: 'none', log: () => {}, victoriaMetrics: vm.url });
  try {
    const victoria = server.ctx.victoria;
    assert.ok(victoria);
    const ts = Math.floor(Date.now() / 1000 / 60) * 60 - 600;
    const p: StoredPoint = {
      key: seriesKey('h1', 'agent.alive', ''),
      endpoint: 'h1',
      metric: 'agent.alive',
      tags: '',
      counterType: 'GAUGE',
      step: 60,
      timestamp: ts,
      value: 1,
    };
    const { sinks, reader } = historyBackends({ embedded, victoria });
    for (const s of sinks) await s.write([p]);
    await victoria.flush();
    await vm.flush();
    const q = {
      key: p.key,
      endpoint: 'h1',
      metric: 'agent.alive',
      tags: '',
      counterType: 'GAUGE' as const,
      from: ts - 60,
      to: ts + 60,
      resolution: 60,
    };
    assert.deepEqual((await reader.query(q)).points, [[ts, 1, 1, 1]]);
    const token = readFileSync(server.adminTokenFile, 'utf8').trim();
    const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
    assert.match(text, /^noops_victoria_points_sent_total 1$/m);
    assert.match(text, /^noops_victoria_points_buffered 0$/m);
  } finally {
    await server.close();
    await vm.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
