/**
 * What a reconcile does, decided as a pure function: the desired instances and what the host
 * runs in, a list of actions out, no I/O. `reconcile` (reconcile.ts) gathers what runs, asks for
 * the plan and only carries it out; the rules live here and are tested with exact equality
 * (reconcile-plan.test.ts), as rollout's `step()`.
 *
 * The rules, in the order the plan lists its actions:
 *
 *   an instance no longer desired            remove (stop its processes and crons; files stay)
 *   a failure reported for another version   forget-failure (the desired state moved on)
 *   the very version that failed             nothing: the server decides what comes next
 *   a release whose signature is refused     refuse (nothing of it is installed or run)
 *   the release already running              keep (new kind, deployment or replicas: start what is
 *                                            missing, stop the replicas no longer wanted)
 *   anything else                            switch (install, stop the old, activate, start)
 */
import type { DesiredInstance } from '../api/index.js';
import { instanceProcesses, processId } from './specs.js';

/** What the host runs, as the plan needs it. */
export interface ActualState {
  /** the release each instance runs, by tag (state.json's instances) */
  instances: Readonly<Record<string, { version: string; sha256: string }>>;
  /** the version whose failure is reported, by tag (reported until the desired state changes) */
  failed: Readonly<Record<string, string>>;
  /** the process ids the supervisor has (a process a person stopped is held, so it is here) */
  supervised: ReadonlySet<string>;
}

/** One step of a reconcile. `version` and `to` are desired versions; `from` the running one. */
export type ReconcileAction =
  | { do: 'remove'; tag: string }
  | { do: 'forget-failure'; tag: string; version: string }
  | { do: 'refuse'; tag: string; version: string; reason: string }
  | { do: 'keep'; tag: string; version: string; start: string[]; stop?: string[] }
  | { do: 'switch'; tag: string; from: string | null; to: string };

/** Why a desired release may not be installed or run (its signature); undefined when it may. Pure. */
export type VerifyRelease = (d: DesiredInstance) => string | undefined;

/**
 * The actions that bring the host from `actual` to `desired`, in the order they are carried out.
 *
 * @example
 *   planReconcile([web('v2')], { instances: { [TAG]: { version: 'v1', sha256 } }, failed: {}, supervised: new Set() })
 *   // [{ do: 'switch', tag: TAG, from: 'v1', to: 'v2' }]
 */
export function planReconcile(desired: readonly DesiredInstance[], actual: ActualState, verify?: VerifyRelease): ReconcileAction[] {
  const plan: ReconcileAction[] = [];
  const wanted = new Set(desired.map((d) => d.tag));
  for (const tag of Object.keys(actual.instances)) {
    if (!wanted.has(tag)) plan.push({ do: 'remove', tag });
  }
  for (const d of desired) {
    const failed = actual.failed[d.tag];
    if (failed !== undefined && failed !== d.version) plan.push({ do: 'forget-failure', tag: d.tag, version: failed });
    if (failed === d.version) continue; // the server decides what comes next
    // Before anything of it is used, even its manifest for a release already running.
    const refused = verify?.(d);
    if (refused !== undefined) {
      plan.push({ do: 'refuse', tag: d.tag, version: d.version, reason: refused });
      continue;
    }
    const cur = actual.instances[d.tag];
    if (cur && cur.version === d.version && cur.sha256 === d.sha256) {
      const names = instanceProcesses(d).map((p) => p.name);
      const start = names.filter((name) => !actual.supervised.has(processId(d.tag, name)));
      // replicas no longer wanted (a lower count): stopped, the others left running
      const stop = supervisedOf(actual.supervised, d.tag).filter((name) => !names.includes(name));
      plan.push({ do: 'keep', tag: d.tag, version: d.version, start, ...(stop.length > 0 && { stop }) });
      continue;
    }
    plan.push({ do: 'switch', tag: d.tag, from: cur?.version ?? null, to: d.version });
  }
  return plan;
}

/** The names of the processes of `tag` the supervisor has (ids are `TAG/NAME`; a tag holds no `/`). */
function supervisedOf(supervised: ReadonlySet<string>, tag: string): string[] {
  const prefix = processId(tag, '');
  const out: string[] = [];
  for (const id of supervised) if (id.startsWith(prefix)) out.push(id.slice(prefix.length));
  return out;
}
