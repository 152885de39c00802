/** The DNS server on a free loopback port, asked by Node's own resolver (UDP, and TCP for large answers). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { formatSelector } from '../tree/index.js';
import { DNS_TTL_S, startDns, type RunningDns } from './dns.js';
import { FakeSource, proc } from './testing.js';
import { NamingView } from './view.js';

const SHOP = 'cop.acme_owt.web_pdl.shop_service.hello_job.web_cluster.dev';
const SHOP_NAME = 'dev.cluster.web.job.hello.service.shop.pdl.web.owt.acme.cop.noops';
const MAIL = 'cop.acme_owt.mail_pdl.post_service.smtp_job.relay_cluster.prod';

let dns: RunningDns;
let view: NamingView;
const source = new FakeSource();
const looked: string[] = [];
let resolver: Resolver;

before(async () => {
  source.addHost('h1', '127.0.0.11');
  source.addHost('h2', '::ffff:127.0.0.12');
  source.addHost('H3', null);
  view = new NamingView(source, async () => source.rows, { hostsRefreshMs: 60_000 });
  await view.start();
  source.report('h1', [proc(SHOP), proc(SHOP, 'admin', 9090), proc(MAIL, 'smtp', 25)]);
  source.report('h2', [proc(SHOP), proc(SHOP, 'worker', null)]);
  dns = await startDns(
    { host: '127.0.0.1', port: 0 },
    {
      endpoints: (selector, process) => view.answer(selector, undefined, process).endpoints,
      nodes: async () => [SHOP, MAIL],
      hostAddress: (host) => {
        const row = view.hostCaseless(host);
        return row && (row.address?.replace('::ffff:', '') ?? null);
      },
      looked: (address, selector) => looked.push(`${address} ${formatSelector(selector)}`),
    },
  );
  resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${dns.port}`]);
});
after(async () => {
  view.close();
  await dns.close();
});

describe('naming DNS', () => {
  it("A records of a cluster's name: the addresses of its healthy instances, with a short TTL", async () => {
    const records = await resolver.resolve4(SHOP_NAME, { ttl: true });
    assert.deepEqual(records.map((r) => r.address).sort(), ['127.0.0.11', '127.0.0.12']);
    assert.ok(records.every((r) => r.ttl === DNS_TTL_S));
    assert.ok(
      looked.includes('127.0.0.1 cop=acme,owt=web,pdl=shop,service=hello,job=web,cluster=dev'),
      'the lookup is recorded with its source',
    );
  });

  it('a node higher up answers for every instance beneath it', async () => {
    assert.deepEqual((await resolver.resolve4('acme.cop.noops')).sort(), ['127.0.0.11', '127.0.0.12']);
    assert.deepEqual(await resolver.resolve4('mail.owt.acme.cop.noops.'), ['127.0.0.11']);
  });

  it('SRV records: every listening process, or one with _PROCESS._tcp; targets resolve under host.noops.', async () => {
    const all = await resolver.resolveSrv(SHOP_NAME);
    assert.deepEqual(all.map((r) => `${r.name}:${r.port}`).sort(), ['h1.host.noops:8080', 'h1.host.noops:9090', 'h2.host.noops:8080']);
    const web = await resolver.resolveSrv(`_web._tcp.${SHOP_NAME}`);
    assert.deepEqual(web.map((r) => `${r.name}:${r.port}`).sort(), ['h1.host.noops:8080', 'h2.host.noops:8080']);
    assert.deepEqual(await resolver.resolve4('h2.host.noops'), ['127.0.0.12']);
    assert.deepEqual(await resolver.resolve4('H1.HOST.NOOPS'), ['127.0.0.11']);
  });

  it('NXDOMAIN for unknown names; REFUSED outside noops.; no data for a known node with nothing healthy', async () => {
    for (const name of ['nope.service.acme.cop.noops', 'acme.planet.noops', 'ghost.host.noops', '_web._tcp.nope.service.acme.cop.noops'])
      await assert.rejects(resolver.resolve4(name), { code: 'ENOTFOUND' }, name);
    await assert.rejects(resolver.resolve4('example.com'), { code: 'EREFUSED' });
    await assert.rejects(resolver.resolve4(`_nope._tcp.${SHOP_NAME}`), { code: 'ENODATA' });
    await assert.rejects(resolver.resolve4('h3.host.noops'), { code: 'ENODATA' }, 'a host without an address');
  });

  it('a deploy is seen at once: the next query has the new instances', async () => {
    source.report('h2', []);
    assert.deepEqual(await resolver.resolve4(SHOP_NAME), ['127.0.0.11']);
    source.report('h2', [proc(SHOP)]);
    assert.deepEqual((await resolver.resolve4(SHOP_NAME)).sort(), ['127.0.0.11', '127.0.0.12']);
  });

  it('an answer too large for UDP is truncated, and the resolver gets it whole over TCP', async () => {
    for (let i = 0; i < 120; i++) {
      const host = `big${i}`;
      source.addHost(host, `127.0.1.${i + 1}`);
    }
    await view.start(); // the new hosts' rows
    for (let i = 0; i < 120; i++) source.report(`big${i}`, [proc(SHOP)]);
    const addresses = await resolver.resolve4(SHOP_NAME);
    assert.equal(addresses.length, 122);
    for (let i = 0; i < 120; i++) source.reports.delete(`big${i}`);
    await view.start();
  });

  it('a port that is taken is NOOPS_E_DNS_LISTEN', async () => {
    await assert.rejects(
      startDns({ host: '127.0.0.1', port: dns.port }, { endpoints: () => [], nodes: async () => [], hostAddress: () => undefined }),
      {
        code: 'NOOPS_E_DNS_LISTEN',
      },
    );
  });
});
