import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { ServerView } from '../../api/index.js';
import { printServers, serverJson } from './servers.js';

const NOW = Date.parse('2026-12-02T12:00:10.000Z');
const SERVERS: ServerView[] = [
  {
    id: 'srv-a',
    address: 'http://10.0.0.5:7700',
    leads: ['judge', 'rollout'],
    lastSeen: '2026-12-02T12:00:08.000Z',
    startedAt: '2026-12-02T11:00:00.000Z',
    self: false,
  },
  {
    id: 'srv-b',
    address: 'http://10.0.0.6:7700',
    leads: [],
    lastSeen: '2026-12-02T11:58:10.000Z',
    startedAt: '2026-12-02T11:30:00.000Z',
    self: true,
  },
];

function printed(servers: ServerView[]): string {
  const out = new PassThrough();
  printServers(servers, out, NOW);
  return out.read()?.toString() ?? '';
}

test('the table: the answering server marked *, loops joined by commas or -, last seen as an age', () => {
  assert.equal(
    printed(SERVERS),
    [
      '   ID     ADDRESS               LEADS          LAST_SEEN',
      '   srv-a  http://10.0.0.5:7700  judge,rollout  2s ago',
      '*  srv-b  http://10.0.0.6:7700  -              2m ago',
      '',
    ].join('\n'),
  );
  assert.equal(printed([]), '(none)\n');
});

test('--json: each server with id, address, leads, lastSeen first, then startedAt and self', () => {
  const text = JSON.stringify(SERVERS.map(serverJson));
  const rows = JSON.parse(text) as Record<string, unknown>[];
  assert.deepEqual(Object.keys(rows[0]!), ['id', 'address', 'leads', 'lastSeen', 'startedAt', 'self']);
  assert.deepEqual(rows, SERVERS);
});
