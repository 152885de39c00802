import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DesiredRow, NamingLookupRow } from '../store/index.js';
import { formatSelector, parseSelector } from '../tree/index.js';
import { FakeSource, proc } from './testing.js';
import { Naming, jobOf } from './service.js';

const SHOP = 'cop.acme_owt.web_pdl.shop_service.hello_job.web_cluster.dev';
const PAY = 'cop.acme_owt.web_pdl.shop_service.pay_job.api_cluster.dev';
const CART = 'cop.acme_owt.web_pdl.shop_service.cart_job.web_cluster.dev';

/** A naming over a fake read model and an in-memory store of desired rows and lookups. */
function namingOf(desired: DesiredRow[]) {
  const source = new FakeSource();
  const lookups: NamingLookupRow[] = [];
  const writes: number[] = [];
  const naming = new Naming({
    reports: source,
    store: {
      listHosts: async () => source.rows,
      listHostsNamed: async (names) => source.rows.filter((r) => names.includes(r.name)),
      listDesired: async () => desired,
      recordNamingLookups: async (rows) => {
        writes.push(rows.length);
        for (const r of rows) {
          const same = lookups.find(
            (l) => l.callerHost === r.callerHost && l.callerTag === r.callerTag && l.target === r.target && l.via === r.via,
          );
          if (same) {
            same.count += r.count;
            same.lastAt = r.lastAt;
          } else lookups.push({ ...r });
        }
      },
      listNamingLookups: async () => lookups,
    },
    nodes: async () => [SHOP, PAY, CART, jobOf(SHOP), jobOf(PAY), jobOf(CART)],
  });
  return { naming, source, lookups, writes };
}

function desiredOf(tag: string, dependsOn?: string[]): DesiredRow {
  return {
    host: 'h9',
    tag,
    version: 'v',
    sha256: 's',
    manifest: { processes: [], ...(dependsOn && { dependsOn }) },
    deploymentId: null,
    updatedAt: '',
  };
}

describe('Naming: who depends on whom', () => {
  it('lookups are counted per caller job and target and written in one batch', async () => {
    const { naming, source, lookups, writes } = namingOf([]);
    source.addHost('h1', '10.0.0.1');
    source.report('h1', [proc(CART)]);
    for (let i = 0; i < 50; i++) naming.looked('h1', parseSelector('service=pay'), 'dns');
    naming.looked('alice', parseSelector('service=pay'), 'http');
    await naming.flush();
    assert.deepEqual(writes, [2]);
    assert.deepEqual(
      lookups.map((l) => [l.callerHost, l.callerTag, l.target, l.via, l.count]),
      [
        ['h1', jobOf(CART), 'service=pay', 'dns', 50],
        ['alice', '', 'service=pay', 'http', 1],
      ],
    );
    await naming.close();
  });

  it('deps: declared (depends_on of what is deployed) and observed (lookups), marked as which', async () => {
    const { naming, source } = namingOf([desiredOf(SHOP, ['cop=acme,service=pay']), desiredOf(PAY)]);
    source.addHost('h1', '10.0.0.1');
    source.report('h1', [proc(CART), proc(SHOP)]);
    naming.looked('h1', parseSelector('cop=acme,service=pay'), 'dns'); // cart and shop both run on h1
    naming.looked('alice', parseSelector('cop=acme,service=pay'), 'http'); // a person: no service depends
    await naming.flush();
    const pay = await naming.depsOf('cop.acme_owt.web_pdl.shop_service.pay');
    assert.equal(pay.selector, 'cop=acme,owt=web,pdl=shop,service=pay');
    assert.deepEqual(pay.uses, []);
    assert.deepEqual(
      pay.usedBy.map((e) => [e.from, e.to, e.declared, e.observed, e.lastSeen !== null]),
      [
        [jobOf(CART), 'cop=acme,service=pay', false, true, true],
        [jobOf(SHOP), 'cop=acme,service=pay', true, true, true],
      ],
    );
    const shop = await naming.depsOf(SHOP); // a cluster's selector: the uses of its job
    assert.deepEqual(
      shop.uses.map((e) => [e.from, e.to, e.declared]),
      [[jobOf(SHOP), 'cop=acme,service=pay', true]],
    );
    assert.deepEqual(shop.usedBy, []);
    const scoped = await naming.depsOf(SHOP, () => false);
    assert.deepEqual(scoped.uses, [], 'uses: only what the caller may see');
    await naming.close();
  });

  it('DNS source: endpoints, host addresses in any case, lookups by source address mapped to hosts', async () => {
    const { naming, source, lookups } = namingOf([]);
    source.addHost('Web1', '::ffff:10.0.0.1');
    await naming.start();
    source.report('Web1', [proc(CART), proc(PAY)]);
    const dns = naming.dnsSource();
    assert.equal(dns.hostAddress('web1'), '10.0.0.1');
    assert.equal(dns.hostAddress('nope'), undefined);
    assert.deepEqual(
      dns.endpoints(parseSelector('service=pay')).map((e) => e.tag),
      [PAY],
    );
    dns.looked?.('10.0.0.1', parseSelector('service=pay'));
    dns.looked?.('10.9.9.9', parseSelector('service=pay'));
    await naming.flush();
    assert.deepEqual(lookups.map((l) => [l.callerHost, l.callerTag, formatSelector(parseSelector(l.target))]).sort(), [
      ['10.9.9.9', '', 'service=pay'],
      ['Web1', jobOf(CART), 'service=pay'],
      ['Web1', jobOf(PAY), 'service=pay'],
    ]);
    await naming.close();
  });
});
