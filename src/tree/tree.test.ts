import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTree, parseSelector, renderTree } from './index.js';

const IM = 'cop.xiaomi_owt.miliao_pdl.im_service.ack_job.api';
const ACCOUNT = 'cop.xiaomi_owt.miliao_pdl.account_service.login_job.web';

const NODES = [
  `${IM}_cluster.prod`,
  `${IM}_cluster.staging`,
  `${ACCOUNT}_cluster.prod`,
  'cop.xiaomi_owt.miliao_pdl.account_service.empty',
  'cop.acme_owt.ops',
];

// h2 is in two clusters of one job, and in a cluster of another product line.
const HOSTS = new Map<string, string[]>([
  [`${IM}_cluster.prod`, ['h1', 'h2']],
  [`${IM}_cluster.staging`, ['h2', 'h3']],
  [`${ACCOUNT}_cluster.prod`, ['h4', 'h2']],
]);

test('buildTree nests the nodes, fills in ancestors, and counts distinct hosts', () => {
  assert.equal(
    renderTree(buildTree(NODES, HOSTS)),
    [
      'cop.acme (0 hosts)',
      '  owt.ops (0 hosts)',
      'cop.xiaomi (4 hosts)',
      '  owt.miliao (4 hosts)',
      '    pdl.account (2 hosts)',
      '      service.empty (0 hosts)',
      '      service.login (2 hosts)',
      '        job.web (2 hosts)',
      '          cluster.prod (2 hosts)',
      '    pdl.im (3 hosts)',
      '      service.ack (3 hosts)',
      '        job.api (3 hosts)',
      '          cluster.prod (2 hosts)',
      '          cluster.staging (2 hosts)',
    ].join('\n'),
  );
});

test('buildTree gives plain nodes with tag, level, name and hosts', () => {
  assert.deepEqual(buildTree(['owt.y_cop.x'], new Map([['cop.x_owt.y', ['h1', 'h1']]])), [
    {
      tag: 'cop.x',
      level: 'cop',
      name: 'x',
      hosts: 1,
      children: [{ tag: 'cop.x_owt.y', level: 'owt', name: 'y', hosts: 1, children: [] }],
    },
  ]);
});

test('the tags of hostsByTag are nodes too', () => {
  assert.equal(
    renderTree(buildTree([], new Map([['cop.x_owt.y_pdl.z', new Set(['a'])]]))),
    ['cop.x (1 host)', '  owt.y (1 host)', '    pdl.z (1 host)'].join('\n'),
  );
});

test('a selector keeps the matching nodes, their ancestors and their descendants', () => {
  assert.equal(
    renderTree(buildTree(NODES, HOSTS, parseSelector('pdl=im'))),
    [
      'cop.xiaomi (3 hosts)',
      '  owt.miliao (3 hosts)',
      '    pdl.im (3 hosts)',
      '      service.ack (3 hosts)',
      '        job.api (3 hosts)',
      '          cluster.prod (2 hosts)',
      '          cluster.staging (2 hosts)',
    ].join('\n'),
  );
});

test('with a selector, hosts count only where their tag matches', () => {
  assert.equal(
    renderTree(buildTree(NODES, HOSTS, parseSelector('cluster=prod'))),
    [
      'cop.xiaomi (3 hosts)',
      '  owt.miliao (3 hosts)',
      '    pdl.account (2 hosts)',
      '      service.login (2 hosts)',
      '        job.web (2 hosts)',
      '          cluster.prod (2 hosts)',
      '    pdl.im (2 hosts)',
      '      service.ack (2 hosts)',
      '        job.api (2 hosts)',
      '          cluster.prod (2 hosts)',
    ].join('\n'),
  );
});

test('the empty selector keeps everything; one that matches nothing keeps nothing', () => {
  assert.deepEqual(buildTree(NODES, HOSTS, parseSelector('')), buildTree(NODES, HOSTS));
  assert.deepEqual(buildTree(NODES, HOSTS, parseSelector('cop=nobody')), []);
  assert.equal(renderTree([]), '');
});

test('siblings sort by name, then by level, whatever the input order', () => {
  const nodes = ['cop.x_owt.y_pdl.z_service.b', 'cop.x_owt.y_pdl.z_servicegroup.b_service.c', 'cop.x_owt.y_pdl.z_service.a'];
  const expected = [
    'cop.x (0 hosts)',
    '  owt.y (0 hosts)',
    '    pdl.z (0 hosts)',
    '      service.a (0 hosts)',
    '      servicegroup.b (0 hosts)',
    '        service.c (0 hosts)',
    '      service.b (0 hosts)',
  ].join('\n');
  assert.equal(renderTree(buildTree(nodes, new Map())), expected);
  assert.equal(renderTree(buildTree([...nodes].reverse(), new Map())), expected);
});
