import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHANNELS, LocalChangeBus } from './index.js';

test('the in-process bus calls every subscriber of the channel before publish returns', async () => {
  const bus = new LocalChangeBus();
  const seen: string[] = [];
  const stop = bus.subscribe(CHANNELS.desired, { change: (p) => seen.push(`a ${p}`), resync: () => seen.push('a resync') });
  bus.subscribe(CHANNELS.desired, { change: (p) => seen.push(`b ${p}`), resync: () => {} });
  bus.subscribe(CHANNELS.agentTokens, { change: (p) => seen.push(`tokens ${p}`), resync: () => {} });
  const sent = bus.publish(CHANNELS.desired, 'web-1');
  assert.deepEqual(seen, ['a web-1', 'b web-1']);
  await sent;
  stop();
  await bus.publish(CHANNELS.desired, 'web-2');
  assert.deepEqual(seen, ['a web-1', 'b web-1', 'b web-2']);
  await bus.close();
});

test('a subscriber that throws does not keep the others from being told', async () => {
  const bus = new LocalChangeBus();
  const seen: string[] = [];
  bus.subscribe(CHANNELS.answers, {
    change: () => {
      throw new Error('boom');
    },
    resync: () => {},
  });
  bus.subscribe(CHANNELS.answers, { change: () => seen.push('told'), resync: () => {} });
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.message);
  process.on('warning', onWarning);
  await bus.publish(CHANNELS.answers, '');
  await new Promise((r) => setImmediate(r));
  process.off('warning', onWarning);
  assert.deepEqual(seen, ['told']);
  assert.ok(
    warnings.some((w) => w.includes('boom')),
    warnings.join('\n'),
  );
});
