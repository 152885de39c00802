import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { localCronSpec, localWatchSpec, readWatches } from './local-watches.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-watches-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a watches file: processes with dir and port, crons, the env of every watch', async () => {
  const file = join(dir, 'watches.yaml');
  writeFileSync(
    file,
    `
env: { REGION: bj }
processes:
  nginx:
    command: nginx -g "daemon off;"
    dir: /etc/nginx
    port: 8080
    restart: on-failure
  shipper: ./ship
crons:
  backup:
    schedule: "0 3 * * *"
    command: ./backup.sh
    dir: /srv/backup
    timeout: 600
`,
  );
  const w = await readWatches(file);
  assert.deepEqual(
    w.processes.map((p) => [p.spec.name, p.dir, p.spec.port, p.spec.restart]),
    [
      ['nginx', '/etc/nginx', 8080, 'on-failure'],
      ['shipper', '/', null, 'always'],
    ],
  );
  const ws = localWatchSpec('/root', w, w.processes[0]!);
  assert.equal(ws.id, 'nginx');
  assert.equal(ws.cwd, '/etc/nginx');
  assert.equal(ws.env.PORT, '8080');
  assert.equal(ws.env.REGION, 'bj');
  assert.equal(ws.logDir, '/root/local/log');
  assert.deepEqual(ws.meta, { tag: null, version: null, process: 'nginx', port: 8080 });
  const cs = localCronSpec('/root', w, w.crons[0]!);
  assert.deepEqual([cs.id, cs.cwd, cs.timeoutMs, cs.logName], ['backup', '/srv/backup', 600_000, 'cron-backup']);
});

test('a missing file is no watches; a bad one is NOOPS_E_WATCHES with lines', async () => {
  assert.deepEqual(await readWatches(join(dir, 'none.yaml')), { processes: [], crons: [], env: {} });
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'processes:\n  a:\n    command: x\n    dir: relative\ncrons:\n  a:\n    schedule: "* * * * *"\n    command: y\n');
  await assert.rejects(readWatches(file), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'NOOPS_E_WATCHES');
    assert.match(err.message, /bad\.yaml:4: processes\.a\.dir: expected an absolute folder/);
    return true;
  });
  writeFileSync(file, 'processes:\n  a: x\ncrons:\n  a:\n    schedule: "* * * * *"\n    command: y\n');
  await assert.rejects(readWatches(file), /crons\.a: "a" is already the name of a process/);
});
