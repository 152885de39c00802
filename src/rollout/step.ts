/**
 * The rollout state machine, pure: from a deployment's progress, the agents' reports and the
 * time, the next progress and the actions to take. The controller does the actions; nothing
 * here touches a store, a clock or a network.
 *
 *   waiting(-1) -> deploying(0) -> [testing] -> canary | waiting -> deploying(1) -> ... -> done
 *                      |               |           \__ held while paused __/
 *                      +--- failure ---+--> reverting (rollback, abort) --> done
 *                                       \-> done (on_failure: stop)
 *
 * An undeploy takes the same path with nothing as its target: a host of a batch succeeds once
 * it reports no process of the tag; reverting starts its previous release again.
 */
import type { DeploymentStatusView, HostProgress, RolloutPolicy, RolloutProgress } from './types.js';
import { hostReadiness, revertState, stoppedReadiness, type HostObservation } from './evaluate.js';
import { toleratedFailures } from './deploy-policy.js';

/** Lines of log a deployment keeps: enough to read what happened, small enough to store with every change. */
export const LOG_KEEP = 100;

/**
 * Hosts a log line or a message names at most; the rest are counted. A batch of 10,000 hosts
 * named in full made a 120 kB line, stored with the deployment's head at every save (each
 * host's own state is in `hosts` and `hostResults`, whatever the line says).
 */
export const LOG_HOSTS = 20;

/**
 * Names for a log line: every one up to LOG_HOSTS, else the first ones and how many more.
 *
 * @example hostNames(['a', 'b']) // 'a, b'
 * @example hostNames(hosts) // 'h1, h2, ..., h20 and 9,980 more' (10,000 hosts)
 */
export function hostNames(hosts: readonly string[]): string {
  if (hosts.length <= LOG_HOSTS) return hosts.join(', ');
  return `${hosts.slice(0, LOG_HOSTS).join(', ')} and ${(hosts.length - LOG_HOSTS).toLocaleString('en-US')} more`;
}

/** What the controller must do. */
export type RolloutAction =
  /** tell these hosts to run the deployment's release, or nothing in an undeploy (before: the before-stop hook) */
  | { type: 'deploy'; hosts: string[] }
  /** tell these hosts to run their previous release again */
  | { type: 'revert'; hosts: string[] }
  /** this host runs `version` healthily: the new release for long enough, or its previous one again (the after-healthy hook) */
  | { type: 'healthy'; host: string; version: string }
  /** run the release's deploy tests against the instances so far */
  | { type: 'test'; batch: number }
  /** the deployment ended */
  | { type: 'end'; status: Exclude<DeploymentStatusView, 'running'>; message: string | null };

/** Everything a step looks at besides the progress. */
export interface StepInput {
  /** the release deployed; in an undeploy, the one the hosts ran */
  version: string;
  /** an undeploy: the hosts are to run nothing of the tag, and succeed once they report none of its processes */
  undeploy?: boolean;
  /** per host, the version it ran before (null: none) */
  previous: Record<string, string | null>;
  /** the process names of the release */
  expected: readonly string[];
  /** per host, its last report about the tag (undefined: none since the server started); asked only for the hosts in flight */
  obs: { get(host: string): HostObservation | undefined };
  /** hosts whose before-stop hook failed (a load balancer did not drain them), with the reason: they were not switched */
  hookFailures?: ReadonlyMap<string, string>;
  /**
   * The hosts whose observation (report or hook failure) may have changed since the step that
   * made `progress`; undefined: any may have. A host in flight that is not named, and that this
   * step did not move, is not evaluated again: the same observation gives it the same state (time
   * moves only a healthy host, or a batch past its deadline, and those are evaluated every step).
   */
  changed?: ReadonlySet<string>;
  /**
   * The caller owns `progress.hosts` and keeps no other view of it: the step writes the entries it
   * replaces into that map, in place, instead of copying the map first (each entry is still
   * replaced, never changed). At 10,000 hosts the copy at every round was 12% of the server's
   * CPU in a deploy. The controller passes it; `changed` in the result names the hosts written.
   */
  hostsOwned?: boolean;
  /** ms since the epoch */
  now: number;
  /** no deadline passes before this (ms): after a server restart the agents need a moment to report */
  graceUntil: number;
}

export interface StepResult {
  progress: RolloutProgress;
  /** the hosts whose entry this step replaced */
  changed: string[];
  /**
   * Each of those hosts' entry as it was before the step: with `hostsOwned`, a caller that cannot
   * carry the step out (an action failed) puts them back, and the map is as it was given.
   */
  before: ReadonlyMap<string, HostProgress>;
  actions: RolloutAction[];
  /** the log lines this step added */
  log: string[];
}

/**
 * The progress of a deployment that has not started its first batch yet (the first step starts it).
 *
 * @example initialProgress(resolvePolicy(), [['h1'], ['h2', 'h3']], false, '2024-05-01T12:00:00.000Z').phase // 'waiting'
 */
export function initialProgress(policy: RolloutPolicy, batches: string[][], hasTests: boolean, at: string): RolloutProgress {
  const hosts: Record<string, HostProgress> = {};
  batches.forEach((b, i) => {
    for (const h of b)
      hosts[h] = { state: 'queued', batch: i, reason: null, startedAt: null, healthySince: null, endedAt: null, downloaded: null };
  });
  return {
    policy,
    batches,
    batch: -1,
    phase: 'waiting',
    phaseSince: at,
    paused: false,
    promoted: false,
    abort: null,
    outcome: null,
    hosts,
    tests: [],
    hasTests,
    log: [],
  };
}

/**
 * Advances a deployment as far as the reports allow (several transitions may happen in one step).
 * `progress` is not changed (unless `hostsOwned`: its map of hosts then is): the answer is a new
 * progress that shares every host entry the step did not change with it (copy on write), and
 * names the hosts it changed, so a caller stores only those.
 */
export function step(progress: RolloutProgress, input: StepInput): StepResult {
  const m = new Machine(shallowCopy(progress), input);
  m.run();
  return { progress: m.p, changed: [...m.owned.keys()], before: m.owned, actions: m.actions, log: m.lines };
}

/**
 * A copy of a progress to change: its own `log`; its `hosts` map is the same object until the
 * step changes a host (`Machine.set` copies it then; entries stay shared until written), since
 * copying 10,000 hosts at every round was 6% of the server's CPU in a deploy. The rest is
 * replaced, never changed, by a step.
 */
function shallowCopy(p: RolloutProgress): RolloutProgress {
  return { ...p, log: [...p.log] };
}

/**
 * The hosts whose entry `after` (a step's or a command's progress) does not share with `before`:
 * the ones that changed. Cheap: one identity check per host.
 *
 * @example changedHosts(p, step(p, input).progress) // ['h1'] when only h1 moved
 */
export function changedHosts(before: RolloutProgress, after: RolloutProgress): string[] {
  const out: string[] = [];
  if (after.hosts === before.hosts) return out;
  for (const h in after.hosts) if (after.hosts[h] !== before.hosts[h]) out.push(h);
  return out;
}

class Machine {
  readonly actions: RolloutAction[] = [];
  readonly lines: string[] = [];
  private readonly iso: string;
  /** hosts whose entry this step copied (it owns them now), with the entry it replaced */
  readonly owned = new Map<string, HostProgress>();

  constructor(
    readonly p: RolloutProgress,
    private readonly in_: StepInput,
  ) {
    this.iso = new Date(in_.now).toISOString();
  }

  run(): void {
    if (this.p.phase === 'done') return;
    if (this.p.abort && this.p.phase !== 'reverting') {
      const by = this.p.abort.by;
      this.p.abort = null;
      this.fail(`aborted by ${by}`, 'aborted');
    }
    // Each pass makes at most one transition; a plan has a bounded number of them.
    for (let pass = 0; pass < 4 * this.p.batches.length + 8; pass++) {
      if (!this.once()) return;
    }
  }

  /** One transition, if the current phase allows one; true when something changed phase. */
  private once(): boolean {
    switch (this.p.phase) {
      case 'deploying':
        return this.deploying();
      case 'testing':
        return this.testing();
      case 'waiting':
        return this.waiting();
      case 'canary':
        return this.canary();
      case 'reverting':
        return this.reverting();
      case 'done':
        return false;
    }
  }

  private deploying(): boolean {
    const { p, in_ } = this;
    const batch = p.batches[p.batch]!;
    const healthyForMs = p.policy.healthy_for * 1000;
    const fresh: string[] = [];
    for (const h of batch) {
      const state = p.hosts[h]!.state;
      if ((state !== 'deploying' && state !== 'healthy') || (state === 'deploying' && this.same(h))) continue;
      const r = in_.undeploy
        ? stoppedReadiness(in_.obs.get(h), in_.hookFailures?.get(h))
        : hostReadiness(in_.version, in_.expected, in_.obs.get(h));
      if (r.kind === 'failed') {
        this.hostFailed(h, r.reason);
        fresh.push(h);
      } else if (r.kind === 'pending') {
        this.set(h, { state: 'deploying', reason: r.reason, healthySince: null });
      } else {
        this.set(h, { reason: null, healthySince: new Date(r.since).toISOString(), downloaded: r.downloaded });
        if (in_.undeploy) {
          // nothing runs, so there is nothing to be healthy (and no after-healthy hook)
          this.set(h, { state: 'succeeded', endedAt: this.iso, healthySince: null });
          this.log(`${h} stopped ${in_.version}`);
        } else if (in_.now - r.since >= healthyForMs) {
          this.set(h, { state: 'succeeded', endedAt: this.iso });
          this.actions.push({ type: 'healthy', host: h, version: in_.version });
          this.log(`${h} is healthy on ${in_.version}${r.downloaded === false ? ' (no download: the release was on disk)' : ''}`);
        } else {
          this.set(h, { state: 'healthy' });
        }
      }
    }
    if (this.deadlinePassed()) {
      for (const h of batch) {
        const hp = p.hosts[h]!;
        if (hp.state !== 'deploying' && hp.state !== 'healthy') continue;
        this.hostFailed(
          h,
          in_.undeploy
            ? `not stopped within ${seconds(p.policy.timeout)}: ${hp.reason ?? 'no report'}`
            : `not healthy within ${seconds(p.policy.timeout)}: ${hp.reason ?? `healthy for less than ${seconds(p.policy.healthy_for)}`}`,
        );
        fresh.push(h);
      }
    }
    // counted over the batches' lists, not the map of hosts (every host is in one batch): this
    // runs at every round, and a for-in over 10,000 keys costs ten times a list's loop
    let failedCount = 0;
    let hostCount = 0;
    for (const b of p.batches) {
      hostCount += b.length;
      for (const h of b) if (p.hosts[h]!.state === 'failed') failedCount++;
    }
    const tolerated = toleratedFailures(p.policy, hostCount);
    if (failedCount > tolerated) {
      const failed = Object.entries(p.hosts).filter(([, hp]) => hp.state === 'failed');
      const reasons =
        failed
          .slice(0, LOG_HOSTS)
          .map(([h, hp]) => `${h}: ${hp.reason}`)
          .join('; ') +
        (failed.length > LOG_HOSTS ? `; and ${(failed.length - LOG_HOSTS).toLocaleString('en-US')} more (see hostResults)` : '');
      this.fail(
        `${failed.length} host(s) failed in batch ${p.batch + 1} of ${p.batches.length}` +
          `${tolerated > 0 ? ` (at most ${tolerated} may)` : ''}: ${reasons}`,
      );
      return true;
    }
    if (fresh.length > 0 && p.policy.on_failure === 'rollback') {
      // Tolerated, but a host whose release failed serves nothing: it goes back to what it ran.
      this.actions.push({ type: 'revert', hosts: fresh });
      this.log(`${hostNames(fresh)} sent back to the previous release (${failedCount} of at most ${tolerated} failures tolerated)`);
    }
    if (!batch.every((h) => p.hosts[h]!.state === 'succeeded' || p.hosts[h]!.state === 'failed')) return false;
    const last = p.batch === p.batches.length - 1;
    if (p.hasTests && (p.batch === 0 || last) && !p.tests.some((t) => t.batch === p.batch)) {
      this.enter('testing');
      this.actions.push({ type: 'test', batch: p.batch });
      this.log(`running the deploy tests after batch ${p.batch + 1} of ${p.batches.length}`);
      return true;
    }
    this.afterBatch();
    return true;
  }

  private testing(): boolean {
    const run = this.p.tests.find((t) => t.batch === this.p.batch);
    if (!run || run.status === 'running') return false;
    if (run.status === 'failed') {
      const bad = run.commands.find((c) => c.code !== 0);
      const why = bad
        ? `"${bad.command}" ${bad.code === null ? 'was killed (time limit)' : `exited with code ${bad.code}`}`
        : 'no command ran';
      this.fail(`the deploy tests failed after batch ${this.p.batch + 1} of ${this.p.batches.length}: ${why}`);
      return true;
    }
    this.log(`the deploy tests passed after batch ${this.p.batch + 1} of ${this.p.batches.length}`);
    this.afterBatch();
    return true;
  }

  private afterBatch(): void {
    const { p } = this;
    if (p.batch === p.batches.length - 1) {
      this.end('succeeded', null);
    } else if (p.batch === 0 && p.policy.canary) {
      this.enter('canary');
      this.log(
        `canary ${hostNames(p.batches[0]!)} is healthy; waiting for \`noops deploy promote\`` +
          (p.policy.canary_wait === null ? '' : ` or ${seconds(p.policy.canary_wait)}`),
      );
    } else {
      this.enter('waiting');
    }
  }

  private waiting(): boolean {
    const wait = this.p.batch < 0 ? 0 : this.p.policy.pause;
    if (this.p.paused || this.in_.now < Date.parse(this.p.phaseSince) + wait * 1000) return false;
    this.startNext();
    return true;
  }

  private canary(): boolean {
    const { p, in_ } = this;
    if (p.paused) return false;
    const timeUp = p.policy.canary_wait !== null && in_.now >= Date.parse(p.phaseSince) + p.policy.canary_wait * 1000;
    if (!p.promoted && !timeUp) return false;
    if (!p.promoted) this.log(`the canary waited ${seconds(p.policy.canary_wait!)}; going on`);
    this.startNext();
    return true;
  }

  private startNext(): void {
    const { p } = this;
    p.batch++;
    this.enter('deploying');
    const hosts = p.batches[p.batch]!;
    for (const h of hosts) this.set(h, { state: 'deploying', startedAt: this.iso, reason: 'waiting for the agent' });
    this.actions.push({ type: 'deploy', hosts: [...hosts] });
    this.log(`batch ${p.batch + 1} of ${p.batches.length}${p.batch === 0 && p.policy.canary ? ' (canary)' : ''}: ${hostNames(hosts)}`);
  }

  private reverting(): boolean {
    const { p, in_ } = this;
    const late = this.deadlinePassed();
    for (const [h, hp] of Object.entries(p.hosts)) {
      if (hp.state !== 'reverting' || (!late && this.same(h))) continue;
      const prev = in_.previous[h] ?? null;
      const s = revertState(prev, in_.obs.get(h));
      if (s === 'done') {
        this.set(h, { state: 'reverted', endedAt: this.iso });
        if (prev !== null) this.actions.push({ type: 'healthy', host: h, version: prev });
        this.log(`${h} is back on ${prev ?? 'nothing (it ran no release before)'}`);
      } else if (s !== 'pending' || late) {
        const why = s !== 'pending' ? s.failed : `not back within ${seconds(p.policy.timeout)}`;
        this.set(h, { state: 'failed', endedAt: this.iso, reason: `could not go back to ${prev}: ${why}` });
        this.log(`${h} could not go back to ${prev}: ${why}`);
      }
    }
    if (Object.values(p.hosts).some((hp) => hp.state === 'reverting')) return false;
    const stuck = Object.entries(p.hosts).filter(([, hp]) => hp.state === 'failed' && hp.reason?.startsWith('could not go back'));
    const outcome = p.outcome ?? { status: 'rolled_back', message: 'rolled back' };
    this.end(
      outcome.status as Exclude<DeploymentStatusView, 'running'>,
      stuck.length === 0
        ? `${outcome.message}; every changed host is back on its previous release`
        : `${outcome.message}; ${hostNames(stuck.map(([h]) => h))} could not go back (see hostResults)`,
    );
    return true;
  }

  /** A failure beyond tolerance (or an abort): roll back, or stop where it is. */
  private fail(message: string, status?: 'aborted'): void {
    const { p } = this;
    const revert = status === 'aborted' || p.policy.on_failure === 'rollback';
    const touched = Object.entries(p.hosts)
      .filter(([, hp]) => hp.state !== 'queued')
      .map(([h]) => h);
    this.skipQueued();
    if (!revert) {
      const kept = touched.filter((h) => p.hosts[h]!.state === 'succeeded');
      for (const h of touched) if (p.hosts[h]!.state === 'deploying' || p.hosts[h]!.state === 'healthy') this.set(h, { state: 'stopped' });
      const result = this.in_.undeploy ? `stopped ${this.in_.version}` : `keep ${this.in_.version}`;
      this.end('failed', `${message}; stopped (on_failure: stop)${kept.length ? `: ${hostNames(kept)} ${result}` : ''}`);
      return;
    }
    p.outcome = { status: status ?? 'rolled_back', message };
    if (touched.length === 0) {
      this.end(p.outcome.status as 'aborted' | 'rolled_back', `${message}; no host had been changed`);
      return;
    }
    for (const h of touched) {
      // a failed host keeps why it failed
      this.set(h, p.hosts[h]!.state === 'failed' ? { state: 'reverting' } : { state: 'reverting', reason: null });
    }
    this.enter('reverting');
    this.actions.push({ type: 'revert', hosts: touched });
    this.log(`${message}; sending ${hostNames(touched)} back to the previous release`);
  }

  private hostFailed(h: string, reason: string): void {
    this.set(h, { state: 'failed', reason, endedAt: this.iso, healthySince: null });
    this.log(`${h} failed: ${reason}`);
  }

  private end(status: Exclude<DeploymentStatusView, 'running'>, message: string | null): void {
    this.skipQueued();
    this.p.outcome = null;
    this.enter('done');
    this.actions.push({ type: 'end', status, message });
    const word = status.replace('_', ' ');
    this.log(!message ? word : message.startsWith(word) ? message : `${word}: ${message}`);
  }

  /** Whether a host's observation is the one it was last evaluated with, and this step has not moved it (see `StepInput.changed`). */
  private same(h: string): boolean {
    return this.in_.changed !== undefined && !this.in_.changed.has(h) && !this.owned.has(h);
  }

  /** Changes a host's entry (a copy of it, the first time this step changes it); a patch that changes nothing copies nothing. */
  private set(h: string, patch: Partial<HostProgress>): void {
    const hp = this.p.hosts[h]!;
    let same = true;
    for (const k in patch) if (hp[k as keyof HostProgress] !== patch[k as keyof HostProgress]) same = false;
    if (same) return;
    if (this.owned.has(h)) Object.assign(hp, patch);
    else {
      // the map of hosts is copied at the step's first change (a step that changes no host
      // copies nothing), unless the caller gave it to the step
      if (this.owned.size === 0 && this.in_.hostsOwned !== true) this.p.hosts = { ...this.p.hosts };
      this.p.hosts[h] = { ...hp, ...patch };
      this.owned.set(h, hp);
    }
  }

  /** Hosts whose batch never started are skipped (the deployment ends or fails). */
  private skipQueued(): void {
    for (const h in this.p.hosts) if (this.p.hosts[h]!.state === 'queued') this.set(h, { state: 'skipped' });
  }

  private enter(phase: RolloutProgress['phase']): void {
    this.p.phase = phase;
    this.p.phaseSince = this.iso;
  }

  private deadlinePassed(): boolean {
    const deadline = Date.parse(this.p.phaseSince) + this.p.policy.timeout * 1000;
    return this.in_.now >= Math.max(deadline, this.in_.graceUntil);
  }

  private log(message: string): void {
    this.lines.push(message);
    this.p.log.push({ at: this.iso, message });
    if (this.p.log.length > LOG_KEEP) this.p.log.splice(0, this.p.log.length - LOG_KEEP);
  }
}

/** 90 -> "90s", 300 -> "5m", 0.5 -> "0.5s". */
export function seconds(s: number): string {
  if (s >= 60 && s % 3600 === 0) return `${s / 3600}h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

/** Each host's part in words, as the history shows it: 'succeeded', 'failed: REASON', 'reverted', ... */
export function hostResults(p: RolloutProgress): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [h, hp] of Object.entries(p.hosts)) out[h] = hostResult(hp);
  return out;
}

/** One host's part in words (see `hostResults`). */
export function hostResult(hp: HostProgress): string {
  return hp.state === 'failed'
    ? `failed: ${hp.reason}`
    : hp.state === 'reverted' && hp.reason
      ? `reverted after failing: ${hp.reason}`
      : hp.state;
}
