import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { z } from 'zod';
import type { ProcessReport } from '../api/index.js';
import { resolvePolicy } from './deploy-policy.js';
import { type ProgressSchema, readProgress } from './progress-schema.js';
import { applyCommand, recordTestEnd, recordTestStart } from './progress-updates.js';
import { initialProgress, step } from './step.js';
import type { RolloutProgress } from './types.js';

// The schema and the type say the same: each is assignable to the other (a typecheck error otherwise).
type Parsed = z.infer<typeof ProgressSchema>;
const toType = (p: Parsed): RolloutProgress => p;
const toSchema = (p: RolloutProgress): Parsed => p;
void toType;
void toSchema;

const iso = (s: number) => new Date(Date.UTC(2024, 4, 1, 12, 0, s)).toISOString();
const up = (version: string): ProcessReport => ({
  tag: 't',
  process: 'web',
  version,
  state: 'up',
  pid: 1,
  port: 8001,
  restarts: 0,
  startedAt: iso(0),
  error: null,
  health: 'healthy',
  healthySince: iso(0),
  healthError: null,
  downloaded: true,
});

/** Every progress a deployment goes through is read back from its JSON as it was. */
test('a progress read back from its JSON is the progress written, at every stage', () => {
  const seen: RolloutProgress[] = [];
  let p = initialProgress(resolvePolicy({ batch: [1], canary_wait: 30 }), [['h1'], ['h2']], true, iso(0));
  seen.push(p);
  const obs = new Map([
    ['h1', { processes: [up('v2')], failure: undefined }],
    ['h2', undefined],
  ]);
  const input = { version: 'v2', previous: { h1: 'v1', h2: null }, expected: ['web'], obs, now: Date.parse(iso(1)), graceUntil: 0 };
  p = step(p, input).progress;
  seen.push(p);
  p = recordTestStart(p, 0, ['10.0.0.1:8001'], Date.parse(iso(2)));
  p = recordTestEnd(p, 0, [{ command: 'sh t.sh', code: null, output: 'killed' }], Date.parse(iso(3)));
  seen.push(p);
  p = applyCommand(applyCommand(p, 'pause', 'bob', Date.parse(iso(4))), 'abort', 'carol', Date.parse(iso(5)));
  seen.push(p, step(p, { ...input, now: Date.parse(iso(6)) }).progress);
  for (const s of seen) assert.deepEqual(readProgress(JSON.parse(JSON.stringify(s))), s);
});

test('a deployment recorded before batched rollouts has no progress; another shape is an error', () => {
  assert.equal(readProgress({}), null);
  const p = initialProgress(resolvePolicy(), [['h1']], false, iso(0));
  assert.throws(() => readProgress({ ...p, hosts: { h1: { state: 'lost' } } }), {
    code: 'NOOPS_E_INTERNAL',
    message: /^the stored progress is not one this server can read: hosts\.h1\.state: /,
  });
  assert.throws(() => readProgress(null), { code: 'NOOPS_E_INTERNAL' });
});
