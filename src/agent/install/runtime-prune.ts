/**
 * When runtimes leave a host. Every runtime an instance names is stamped as used whenever the
 * agent looks (before each reconcile switches anything, and on every prune), so one that stops
 * being used keeps its keep time from that moment; and the prune runs after each reconcile and
 * on the Agent's timer, so a quiet host, with no deploy for weeks, still removes what it no
 * longer uses. The decision is pure ({@link runtimeUse} and `runtimesToRemove`); the rest does it.
 */
import { pruneRuntimes, RUNTIME_KEEP_MS, runtimeKey } from '../../runtimes/index.js';
import { runtimesDir } from '../specs.js';
import type { AgentState, InstanceState } from '../state.js';

/**
 * An hour between the Agent's prunes: a runtime goes at most an hour after its keep time (a
 * day) ends, and a prune (a look at a few folders) costs nothing at that rate.
 */
export const RUNTIME_PRUNE_EVERY_MS = 60 * 60 * 1000;

/**
 * Which runtimes the instances use, and when each runtime was last used as of `now`: those in
 * use were used now, the others keep their last stamp.
 *
 * @example
 *   runtimeUse(state.instances, { 'node@18.20.4': 0 }, Date.now())
 *   // { inUse: Set { 'node@22.23.3' }, lastUsed: { 'node@18.20.4': 0, 'node@22.23.3': <now> } }
 */
export function runtimeUse(
  instances: Readonly<Record<string, Pick<InstanceState, 'desired'>>>,
  lastUsed: Readonly<Record<string, number>>,
  now: number,
): { inUse: Set<string>; lastUsed: Record<string, number> } {
  const inUse = new Set<string>();
  for (const inst of Object.values(instances)) {
    for (const [name, version] of Object.entries(inst.desired.manifest.runtimes ?? {})) inUse.add(runtimeKey(name, version));
  }
  const next = { ...lastUsed };
  for (const key of inUse) next[key] = now;
  return { inUse, lastUsed: next };
}

/** Stamps the runtimes the state's instances use as used at `now`; returns them. */
export function noteRuntimesInUse(state: AgentState, now = Date.now()): Set<string> {
  const { inUse, lastUsed } = runtimeUse(state.instances, state.runtimesUsed ?? {}, now);
  state.runtimesUsed = lastUsed;
  return inUse;
}

export interface RuntimePruneDeps {
  root: string;
  /** persists the state */
  save(): void;
  log(line: string): void;
  /** how long a runtime nothing uses stays installed (default RUNTIME_KEEP_MS) */
  runtimeKeepMs?: number;
}

/**
 * Stamps the runtimes in use, then removes those nothing has used for the keep time. Never
 * throws (a prune can always wait); never runs beside a reconcile (the callers serialize).
 */
export async function pruneUnusedRuntimes(deps: RuntimePruneDeps, state: AgentState, now = Date.now()): Promise<string[]> {
  const inUse = noteRuntimesInUse(state, now);
  const used = state.runtimesUsed!;
  const r = await pruneRuntimes(runtimesDir(deps.root), inUse, used, now, deps.runtimeKeepMs ?? RUNTIME_KEEP_MS);
  for (const key of r.removed) {
    delete used[key];
    deps.log(`runtime ${key}: removed (unused)`);
  }
  for (const e of r.errors) deps.log(`runtime prune: ${e}`);
  if (inUse.size > 0 || r.removed.length > 0) deps.save();
  return r.removed;
}

export interface RuntimePrunerOptions extends RuntimePruneDeps {
  state: AgentState;
  /** time between prunes (default RUNTIME_PRUNE_EVERY_MS) */
  everyMs?: number;
  /** true while a reconcile runs: that round is skipped (the reconcile prunes at its end) */
  busy(): boolean;
  /** told of the runtimes a prune of the timer removed (the agent reports what it has) */
  removed?(keys: string[]): void;
}

/**
 * The Agent's timer: prunes every `everyMs`, deploy or no deploy. A reconcile waits for
 * {@link RuntimePruner.idle} before it starts, so a prune never removes a runtime that a
 * reconcile is about to use.
 */
export class RuntimePruner {
  readonly #opts: RuntimePrunerOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;

  constructor(opts: RuntimePrunerOptions) {
    this.#opts = opts;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule();
  }

  /** No more prunes start; one in progress finishes (see idle). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** Resolves once no prune runs. */
  async idle(): Promise<void> {
    await this.#running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      if (this.#opts.busy()) return this.#schedule();
      this.#running = pruneUnusedRuntimes(this.#opts, this.#opts.state)
        .then((keys) => keys.length > 0 && this.#opts.removed?.(keys))
        .catch((err: Error) => this.#opts.log(`runtime prune failed: ${err.message}`))
        .finally(() => {
          this.#running = undefined;
          this.#schedule();
        });
    }, this.#opts.everyMs ?? RUNTIME_PRUNE_EVERY_MS);
  }
}
