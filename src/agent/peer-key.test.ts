/** The peer key an agent derives from its token and the one the server derives from it agree (swarm/tickets.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiClient } from '../api/index.js';
import { checkKeyedTicket, keyedTicket, peerKeyDomain, peerKeyOf } from '../swarm/index.js';

const SHA = 'a'.repeat(64);

test("an agent's peer key from its API client is the one the server derives from its token and key; another token's or server key's is not", () => {
  const agent = new ApiClient('http://127.0.0.1:7700', 'token-of-h1');
  // as the agent's SwarmClient derives it (swarm-download.ts)
  const key = agent.tokenKey(peerKeyDomain('k1'), (token) => peerKeyOf(token, 'k1'))!;
  assert.ok(key.equals(peerKeyOf('token-of-h1', 'k1')));
  assert.ok(!key.equals(peerKeyOf('token-of-h2', 'k1')), 'another agent');
  assert.ok(!key.equals(peerKeyOf('token-of-h1', 'k2')), 'a server with another key (one the agent did not pin)');
  assert.equal(
    new ApiClient('http://127.0.0.1:7700').tokenKey(peerKeyDomain('k1'), (token) => peerKeyOf(token, 'k1')),
    undefined,
    'no token, no key',
  );
  const ticket = keyedTicket(peerKeyOf('token-of-h1', 'k1'), {
    host: 'h2',
    addresses: ['10.0.0.2'],
    sha256: SHA,
    expires: Date.now() + 60_000,
  });
  assert.equal('host' in checkKeyedTicket(key, ticket, SHA, Date.now()) && 'checked', 'checked');
  assert.match(
    (checkKeyedTicket(peerKeyOf('token-of-h2', 'k1'), ticket, SHA, Date.now()) as { refused: string }).refused,
    /not made for this agent/,
  );
  // the MAC in exactly one spelling: a lenient decoding would take trailing characters too
  assert.match((checkKeyedTicket(key, `${ticket}!!`, SHA, Date.now()) as { refused: string }).refused, /not readable/);
});
