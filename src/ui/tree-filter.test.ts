import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TreeNodeView } from '../api/index.js';
import { filterTree } from './tree-filter.js';

function node(tag: string, children: TreeNodeView[] = []): TreeNodeView {
  const last = tag.split('_').pop()!;
  const [level, name] = last.split('.');
  return {
    tag,
    level: level!,
    name: name!,
    hosts: 0,
    hostsDown: 0,
    instances: 0,
    instancesUp: 0,
    health: 'idle',
    deploying: false,
    children,
  };
}

const roots = [
  node('cop.acme', [
    node('cop.acme_owt.web', [node('cop.acme_owt.web_pdl.shop', [node('cop.acme_owt.web_pdl.shop_service.api')])]),
    node('cop.acme_owt.ops', [node('cop.acme_owt.ops_pdl.mon')]),
  ]),
];

test('keeps matches with their path and subtree', () => {
  const [acme] = filterTree(roots, 'pdl.shop');
  assert.equal(acme!.tag, 'cop.acme');
  assert.deepEqual(
    acme!.children.map((c) => c.tag),
    ['cop.acme_owt.web'],
  );
  assert.deepEqual(
    acme!.children[0]!.children[0]!.children.map((c) => c.name),
    ['api'],
    'the subtree of a match is whole',
  );
});

test('empty text keeps all; no match keeps none', () => {
  assert.equal(filterTree(roots, '').length, 1);
  assert.deepEqual(filterTree(roots, 'nothing'), []);
});
