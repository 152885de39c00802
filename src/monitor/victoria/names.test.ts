import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prometheusName, quoteLabelValue, seriesLabels, seriesSelector } from './names.js';

test("Falcon's metric names as Prometheus': every character outside [a-zA-Z0-9_] becomes _", () => {
  assert.equal(prometheusName('cpu.idle'), 'cpu_idle');
  assert.equal(prometheusName('df.bytes.free.percent'), 'df_bytes_free_percent');
  assert.equal(prometheusName('net.if.in.bytes'), 'net_if_in_bytes');
  assert.equal(prometheusName('my-app/latency:p99'), 'my_app_latency_p99');
  assert.equal(prometheusName('5xx.count'), '_5xx_count');
});

test('the labels of a series: the endpoint, each tag, and the originals under falcon_*', () => {
  assert.deepEqual(seriesLabels({ endpoint: 'h1', metric: 'cpu.idle', tags: '', step: 60 }), {
    __name__: 'cpu_idle',
    falcon_metric: 'cpu.idle',
    endpoint: 'h1',
    falcon_step: '60',
  });
  assert.deepEqual(seriesLabels({ endpoint: 'h1', metric: 'common.servicerunning', tags: 'cop=xiaomi,job=api,process=web', step: 60 }), {
    __name__: 'common_servicerunning',
    falcon_metric: 'common.servicerunning',
    endpoint: 'h1',
    falcon_tags: 'cop=xiaomi,job=api,process=web',
    falcon_step: '60',
    cop: 'xiaomi',
    job: 'api',
    process: 'web',
  });
});

test('tag names that sanitize to a reserved or taken label get a tag_ prefix', () => {
  const labels = seriesLabels({ endpoint: 'h1', metric: 'm', tags: '__name__=x,a.b=1,a_b=2,endpoint=e2,falcon_metric=y', step: 10 });
  assert.equal(labels.__name__, 'm');
  assert.equal(labels.endpoint, 'h1');
  assert.equal(labels.falcon_metric, 'm');
  assert.equal(labels.tag___name__, 'x');
  assert.equal(labels.a_b, '1');
  assert.equal(labels.tag_a_b, '2');
  assert.equal(labels.tag_endpoint, 'e2');
  assert.equal(labels.tag_falcon_metric, 'y');
});

test('a series selector names the series exactly by its original metric, endpoint and tags, quoted', () => {
  assert.equal(
    seriesSelector({ endpoint: 'h1', metric: 'cpu.idle', tags: '' }),
    'cpu_idle{falcon_metric="cpu.idle",endpoint="h1",falcon_tags=""}',
  );
  assert.equal(quoteLabelValue('a"b\\c\nd'), '"a\\"b\\\\c\\nd"');
});
