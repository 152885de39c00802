import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatSelector } from '../tree/index.js';
import { canonicalSelector, dnsNameOf, dnsQuestion, namingSelector } from './names.js';

const TAG = 'cop.acme_owt.web_pdl.shop_service.hello_job.web_cluster.dev';

describe('naming names', () => {
  it("a node's DNS name is its tag's levels reversed, each as VALUE.LEVEL, under noops.", () => {
    assert.equal(dnsNameOf(TAG), 'dev.cluster.web.job.hello.service.shop.pdl.web.owt.acme.cop.noops.');
    assert.equal(dnsNameOf('cop=acme,pdl=shop'), 'shop.pdl.acme.cop.noops.');
  });

  it('a DNS name reads back as the selector of its pairs, in any case, with or without the final dot', () => {
    const q = dnsQuestion('DEV.cluster.web.job.hello.service.shop.pdl.web.owt.acme.cop.noops');
    assert.equal(q.kind, 'node');
    assert.equal(q.kind === 'node' && formatSelector(q.selector), canonicalSelector(TAG));
    const higher = dnsQuestion('web.owt.acme.cop.noops.');
    assert.equal(higher.kind === 'node' && formatSelector(higher.selector), 'cop=acme,owt=web');
  });

  it('_PROCESS._tcp narrows to one process', () => {
    const q = dnsQuestion('_web._tcp.hello.service.acme.cop.noops.');
    assert.deepEqual(q.kind === 'node' && [formatSelector(q.selector), q.process], ['cop=acme,service=hello', 'web']);
  });

  it('hosts are under host.noops.; names outside noops. are foreign; anything else unknown', () => {
    assert.deepEqual(dnsQuestion('web1.example.host.noops.'), { kind: 'host', host: 'web1.example' });
    assert.deepEqual(dnsQuestion('example.com.'), { kind: 'foreign' });
    assert.deepEqual(dnsQuestion('noopsx.'), { kind: 'foreign' });
    for (const name of ['acme.noops.', 'acme.planet.noops.', 'Bad_value.cop.noops.', 'a.cop.b.cop.noops.', '__._tcp.acme.cop.noops.'])
      assert.deepEqual(dnsQuestion(name), { kind: 'unknown' }, name);
  });

  it('what a caller types may be a selector or a tag', () => {
    assert.equal(formatSelector(namingSelector('service=hello, cop=acme')), 'cop=acme,service=hello');
    assert.equal(formatSelector(namingSelector('cop.acme_service.hello')), 'cop=acme,service=hello');
    assert.throws(() => namingSelector('cop=ACME'), { code: 'NOOPS_E_SELECTOR_INVALID' });
    assert.throws(() => namingSelector('not a tag'), { code: 'NOOPS_E_TAG_INVALID' });
  });
});
