/**
 * What people do to a running deployment (pause, resume, promote, abort) and what the deploy
 * tests report, as pure changes of its progress. The next step acts on them.
 */
import { NoopsError } from '../errors/index.js';
import type { DeploymentAction } from '../api/index.js';
import type { DeployTestCommand, RolloutProgress } from './types.js';
import { LOG_KEEP } from './step.js';

/**
 * Applies a person's command to a running deployment's progress.
 *
 * @example applyCommand(progress, 'promote', 'alice', Date.now()).promoted // true
 * @throws NoopsError NOOPS_E_DEPLOY_STATE when the deployment is not where the command makes sense
 */
export function applyCommand(progress: RolloutProgress, action: DeploymentAction, by: string, now: number): RolloutProgress {
  const p = headCopy(progress);
  const where = describe(p);
  const refuse = (why: string): never => {
    throw new NoopsError('NOOPS_E_DEPLOY_STATE', `cannot ${action}: ${why} (it is ${where})`);
  };
  if (p.phase === 'done') refuse('the deployment has ended');
  switch (action) {
    case 'pause':
      if (p.phase === 'reverting') refuse('it is going back to the previous release');
      if (p.paused) refuse('it is paused already');
      p.paused = true;
      break;
    case 'resume':
      if (!p.paused) refuse('it is not paused');
      p.paused = false;
      break;
    case 'promote':
      if (p.phase !== 'canary') refuse('it is not waiting at a canary');
      p.promoted = true;
      break;
    case 'abort':
      if (p.phase === 'reverting') refuse('it is going back to the previous release already');
      p.abort = { by, at: new Date(now).toISOString() };
      break;
  }
  log(p, now, commandLine(action, by));
  return p;
}

/** The log line of an applied command (a following server waits for it: rollout/following.ts). */
export function commandLine(action: DeploymentAction, by: string): string {
  return `${{ pause: 'paused', resume: 'resumed', promote: 'promoted', abort: 'abort requested' }[action]} by ${by}`;
}

/** The deploy tests after `batch` have started with these instances. */
export function recordTestStart(progress: RolloutProgress, batch: number, instances: string[], now: number): RolloutProgress {
  const p = headCopy(progress);
  const run = { batch, status: 'running' as const, instances, startedAt: new Date(now).toISOString(), endedAt: null, commands: [] };
  p.tests = [...p.tests.filter((t) => t.batch !== batch), run];
  return p;
}

/** The deploy tests after `batch` have ended; passed when every command exited 0. */
export function recordTestEnd(progress: RolloutProgress, batch: number, commands: DeployTestCommand[], now: number): RolloutProgress {
  const p = headCopy(progress);
  const run = p.tests.find((t) => t.batch === batch);
  if (!run) return p;
  run.commands = commands;
  run.status = commands.length > 0 && commands.every((c) => c.code === 0) ? 'passed' : 'failed';
  run.endedAt = new Date(now).toISOString();
  for (const c of commands)
    log(
      p,
      now,
      `deploy test "${c.command}": ${c.code === 0 ? 'passed' : c.code === null ? 'killed at the time limit' : `exited with code ${c.code}`}`,
    );
  return p;
}

/** Where a deployment is, in words: "deploying batch 2 of 4", "waiting at the canary (paused)". */
export function describe(p: RolloutProgress): string {
  const of = `${p.batch + 1} of ${p.batches.length}`;
  const what =
    p.phase === 'deploying'
      ? `deploying batch ${of}`
      : p.phase === 'testing'
        ? `running the deploy tests after batch ${of}`
        : p.phase === 'waiting'
          ? p.batch < 0
            ? 'starting'
            : `between batch ${of} and the next`
          : p.phase === 'canary'
            ? 'waiting at the canary for promote'
            : p.phase === 'reverting'
              ? 'going back to the previous release'
              : 'ended';
  return p.paused ? `${what} (paused)` : what;
}

/**
 * A copy of a progress to change everything but its hosts in: the hosts' entries stay shared
 * (none of these updates changes one), so the controller stores no host for a command.
 */
function headCopy(progress: RolloutProgress): RolloutProgress {
  const { hosts, ...head } = progress;
  return { ...structuredClone(head), hosts };
}

function log(p: RolloutProgress, now: number, message: string): void {
  p.log.push({ at: new Date(now).toISOString(), message });
  if (p.log.length > LOG_KEEP) p.log.splice(0, p.log.length - LOG_KEEP);
}
