/**
 * Reading a deployment's progress back from the store: the one place its JSON becomes a
 * `RolloutProgress` again, validated (never cast). The schema mirrors `types.ts`; the test
 * beside it ties the two, so a field added to one and not the other fails the typecheck.
 */
import { z } from 'zod';
import { NoopsError } from '../errors/index.js';
import type { RolloutProgress } from './types.js';

const iso = z.string();
const status = z.enum(['running', 'succeeded', 'failed', 'rolled_back', 'aborted']);

const PolicySchema = z.object({
  batch: z.array(z.union([z.number(), z.string()])),
  pause: z.number(),
  healthy_for: z.number(),
  timeout: z.number(),
  max_failures: z.union([z.number(), z.string()]),
  on_failure: z.enum(['stop', 'rollback']),
  canary: z.boolean(),
  canary_wait: z.number().nullable(),
  test_timeout: z.number(),
  drain_timeout: z.number().optional(),
  driver: z.enum(['process', 'container']).optional(),
});

const HostSchema = z.object({
  state: z.enum(['queued', 'deploying', 'healthy', 'succeeded', 'failed', 'reverting', 'reverted', 'stopped', 'skipped']),
  batch: z.number(),
  reason: z.string().nullable(),
  startedAt: iso.nullable(),
  healthySince: iso.nullable(),
  endedAt: iso.nullable(),
  downloaded: z.boolean().nullable(),
});

const TestRunSchema = z.object({
  batch: z.number(),
  status: z.enum(['running', 'passed', 'failed']),
  instances: z.array(z.string()),
  startedAt: iso,
  endedAt: iso.nullable(),
  commands: z.array(z.object({ command: z.string(), code: z.number().nullable(), output: z.string() })),
});

/** A stored progress, as `types.ts` says it is. */
export const ProgressSchema = z.object({
  policy: PolicySchema,
  batches: z.array(z.array(z.string())),
  batch: z.number(),
  phase: z.enum(['deploying', 'testing', 'waiting', 'canary', 'reverting', 'done']),
  phaseSince: iso,
  paused: z.boolean(),
  promoted: z.boolean(),
  abort: z.object({ by: z.string(), at: iso }).nullable(),
  outcome: z.object({ status, message: z.string() }).nullable(),
  hosts: z.record(z.string(), HostSchema),
  tests: z.array(TestRunSchema),
  hasTests: z.boolean(),
  log: z.array(z.object({ at: iso, message: z.string() })),
});

/**
 * A deployment's progress from its stored JSON: null for a deployment recorded before batched
 * rollouts (its progress is `{}`).
 *
 * @example readProgress({}) // null
 * @throws NoopsError NOOPS_E_INTERNAL when the JSON is a progress of another shape (the first problem named)
 */
export function readProgress(json: unknown): RolloutProgress | null {
  if (typeof json === 'object' && json !== null && !('phase' in json)) return null;
  const r = ProgressSchema.safeParse(json);
  if (r.success) return withQueued(r.data);
  const issue = r.error.issues[0]!;
  throw new NoopsError(
    'NOOPS_E_INTERNAL',
    `the stored progress is not one this server can read: ${issue.path.map(String).join('.') || '(top)'}: ${issue.message}`,
  );
}

/**
 * The progress with an entry for every host of its plan (in the plan's order, when some were
 * missing): a host whose batch has not started is `queued`, and the store keeps no entry for it
 * (a deploy's start writes no per-host state).
 *
 * @example withQueued({ ...p, batches: [['h1']], hosts: {} }).hosts.h1.state // 'queued'
 */
export function withQueued(p: RolloutProgress): RolloutProgress {
  if (p.batches.every((batch) => batch.every((h) => p.hosts[h] !== undefined))) return p; // whole already (the controller's own)
  const hosts: RolloutProgress['hosts'] = {};
  p.batches.forEach((batch, i) => {
    for (const h of batch)
      hosts[h] = p.hosts[h] ?? {
        state: 'queued',
        batch: i,
        reason: null,
        startedAt: null,
        healthySince: null,
        endedAt: null,
        downloaded: null,
      };
  });
  for (const h in p.hosts) hosts[h] ??= p.hosts[h]!;
  return { ...p, hosts };
}
