/**
 * A running deployment as the controller holds it in memory: its row, its progress, and what
 * waits for the next step (people's commands, deploy-test results, log lines from hooks).
 */
import type { DeploymentAction } from '../api/index.js';
import type { DeployTestCommand, RolloutLogLine, RolloutProgress } from './types.js';
import type { DesiredHead, Fence, ReleaseRow } from '../store/index.js';
import type { Deployment } from './ports.js';
import { LOG_KEEP, type RolloutAction } from './step.js';
import { manifestOf } from './store-ports.js';

/** A command's answer, given once the progress it went into is saved (`err`: it was refused). */
export interface Answer {
  done: (err?: Error) => void;
  err?: Error;
}

/** One deployment the controller steps. */
export interface RunningDeployment {
  row: Deployment;
  progress: RolloutProgress;
  release: ReleaseRow;
  /** the process names of the release */
  expected: string[];
  /** no deadline passes before this (ms since the epoch) */
  graceUntil: number;
  /** commands waiting for the next step, with who waits for them */
  commands: { action: DeploymentAction; by: string; done: (err?: Error) => void }[];
  testResults: { batch: number; commands: DeployTestCommand[] }[];
  /** log lines from outside a step (hooks, a restart), added at the next */
  notes: string[];
  /** commands a round applied whose save the store refused: answered once a later save succeeds */
  unanswered: Answer[];
  /** the end a save could not write: the next save writes it, whatever its round's step did */
  ending?: Extract<RolloutAction, { type: 'end' }>;
  /** hosts whose before-stop hook failed, and why */
  hookFailures: Map<string, string>;
  /** releases other than the deployment's (previous versions), by version */
  releases: Map<string, ReleaseRow>;
  /** the deployment's hosts, for a report's "is this host mine" (a list's includes is O(hosts)) */
  hostSet: Set<string>;
  /** the progress as last saved, without its hosts (`headOf`), serialized: a step that changed nothing writes nothing */
  savedJson: string;
  /** hosts to write at the next save even if no step changed them (a deployment taken up from the store) */
  unsaved: string[];
  /** hosts that reported (or whose hook failed) since the last step: the next one evaluates only those of the hosts in flight; undefined: every one */
  dirty: Set<string> | undefined;
  /**
   * during a round: the hosts whose desired state it wrote, woken once the round's progress is
   * saved (or its save failed), not while the round still writes (undefined: outside a round, a
   * write wakes its hosts at once)
   */
  wakeAfterSave?: string[];
  /** the cluster's desired entries as its start read them, for its first step (read once, not twice) */
  desiredAtStart?: DesiredHead[];
  /**
   * the cluster's replicas per host, resolved into each desired entry written (docs/scheduler.md#replicas):
   * from its start, or read once when resumed (undefined: not read yet; null: one on each host)
   */
  replicas?: Record<string, number> | null;
  /** the rollout loop's lease this server steps it under (undefined: alone); every write of its stepping goes under it */
  fence?: Fence;
  /** its stagings of the next batch's package, one after the other; an unstaging waits for them (never rejects) */
  staging?: Promise<void>;
}

/** A deployment to step, from its row (whose progress is replaced by `progress`). */
export function newRunning(
  row: Omit<Deployment, 'progress'>,
  progress: RolloutProgress,
  release: ReleaseRow,
  graceUntil: number,
): RunningDeployment {
  return {
    row: { ...row, progress },
    progress,
    release,
    graceUntil,
    expected: manifestOf(release).processes.map((p) => p.name),
    commands: [],
    testResults: [],
    notes: [],
    unanswered: [],
    hookFailures: new Map(),
    releases: new Map(),
    hostSet: new Set(row.hosts),
    savedJson: headJson(progress),
    unsaved: [],
    dirty: undefined,
  };
}

/**
 * A progress without its hosts (`hosts: {}`), as the deployment's row stores it: each host's
 * entry is stored alone, when it changes (RolloutWriter's `hostChanges`).
 */
export function headOf(p: RolloutProgress): RolloutProgress {
  return { ...p, hosts: {} };
}

/** Each plan's batches serialized, once: a plan does not change while its deployment runs. */
const batchesJson = new WeakMap<readonly (readonly string[])[], string>();

/**
 * `headOf(p)` serialized (its `batches` first), as `save` compares and stores it at every round
 * that changed something. The plan's names are serialized once per deployment: at 10,000 hosts
 * they are about 120 kB, and serializing them at every round was most of a round's save.
 */
export function headJson(p: RolloutProgress): string {
  let batches = batchesJson.get(p.batches);
  if (batches === undefined) batchesJson.set(p.batches, (batches = JSON.stringify(p.batches)));
  // `hosts: {}` is always there: the rest is never empty after its brace
  return `{"batches":${batches},${JSON.stringify({ ...p, hosts: {}, batches: undefined }).slice(1)}`;
}

/** The progress with these lines added to its log. */
export function addLog(p: RolloutProgress, messages: string[], now: number): RolloutProgress {
  const at = new Date(now).toISOString();
  const log = [...p.log, ...messages.map((message) => ({ at, message }))];
  return { ...p, log: log.slice(-LOG_KEEP) };
}

/** The lines of `after` that `before` did not have (the log only grows at its end, and drops its oldest). */
export function newLines(before: RolloutLogLine[], after: RolloutLogLine[]): RolloutLogLine[] {
  const last = before.at(-1);
  if (!last) return after;
  for (let i = after.length - 1; i >= 0; i--) {
    if (after[i]!.at === last.at && after[i]!.message === last.message) return after.slice(i + 1);
  }
  return after;
}
