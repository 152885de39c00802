/** `--dns`: the server serves naming's DNS; a taken address fails `noops server` and only warns in `noops up` (dnsOptional). */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './index.js';

const dirs: string[] = [];
const dataDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'noops-dns-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('with --dns the server answers DNS on that address (port 0: a free one), and stops it on close', async () => {
  const server = await startServer({ dataDir: dataDir(), listen: '127.0.0.1:0', dns: '127.0.0.1:0', buildSandbox: 'none', log: () => {} });
  try {
    assert.ok(server.dns && server.dns.port > 0);
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${server.dns.port}`]);
    await assert.rejects(resolver.resolve4('nothing.service.acme.cop.noops'), { code: 'ENOTFOUND' });
    await assert.rejects(resolver.resolve4('example.com'), { code: 'EREFUSED' });
  } finally {
    await server.close();
  }
});

test('a taken DNS address: NOOPS_E_DNS_LISTEN for noops server; a warning, and no DNS, for noops up', async () => {
  const holder = createSocket('udp4');
  await new Promise<void>((r) => holder.bind(0, '127.0.0.1', r));
  const taken = `127.0.0.1:${holder.address().port}`;
  try {
    await assert.rejects(startServer({ dataDir: dataDir(), listen: '127.0.0.1:0', dns: taken, buildSandbox: 'none', log: () => {} }), {
      code: 'NOOPS_E_DNS_LISTEN',
    });
    const up = await startServer({
      dataDir: dataDir(),
      listen: '127.0.0.1:0',
      dns: taken,
      dnsOptional: true,
      buildSandbox: 'none',
      log: () => {},
    });
    try {
      assert.equal(up.dns, undefined);
      assert.ok(
        up.warnings.some((w) => w.includes(taken) && w.includes('running on without DNS')),
        up.warnings.join('\n'),
      );
    } finally {
      await up.close();
    }
  } finally {
    holder.close();
  }
});

test('an address that is not HOST:PORT: NOOPS_E_INPUT naming its flag (--listen, --dns)', async () => {
  const start = (listen: string, dns?: string) => startServer({ dataDir: dataDir(), listen, dns, buildSandbox: 'none', log: () => {} });
  await assert.rejects(
    start('7700'),
    (err: Error & { code?: string }) => err.code === 'NOOPS_E_INPUT' && /--listen "7700"/.test(err.message),
  );
  await assert.rejects(
    start('127.0.0.1:0', 'localhost'),
    (err: Error & { code?: string }) => err.code === 'NOOPS_E_INPUT' && /--dns "localhost"/.test(err.message),
  );
});
