/**
 * The rollout controller: the thin, doing half of rollouts. It starts deployments (the plan
 * from `plan.ts`), and on every agent report and every tick asks `step()` what to do next,
 * then does it: change desired state, call the hooks, run the deploy tests, end the deployment.
 * Deciding lives in `step.ts`; everything here is I/O.
 *
 * Every change of a deployment's progress is written to the store after its actions are done,
 * so a server killed at any point resumes each running deployment where it was: it re-applies
 * the desired state of the current batch (idempotent), re-runs deploy tests that were running,
 * and waits a moment for the agents' first reports before any deadline passes.
 *
 * Several servers on one database (issue 14): only the server that leads the rollout loop
 * (`lead(fence)`, src/lead/ wired by the server) steps deployments, every write under its fence
 * (refused by the database once another server took the lease: then it `follow`s). A server
 * that follows starts deployments by writing them (the leader adopts them, told by the bus or
 * by its scan every ADOPT_SCAN_MS), and answers stops, live views and commands through
 * `Following` (following.ts).
 */
import { EventEmitter } from 'node:events';
import { NoopsError } from '../errors/index.js';
import type { DeploymentKind, Fence } from '../store/index.js';
import type { DeploymentAction } from '../api/index.js';
import type { RolloutLogLine, RolloutProgress } from './types.js';
import type { Deployment, RolloutDeps, StoredDeployment } from './ports.js';
import { observe, previousVersion } from './evaluate.js';
import { resolvePolicy } from './deploy-policy.js';
import { hostResult, hostResults, initialProgress, step, type RolloutAction, type StepInput } from './step.js';
import { applyCommand, recordTestEnd, recordTestStart } from './progress-updates.js';
import { addLog, headJson, headOf, newLines, newRunning, type Answer, type RunningDeployment } from './running-deployment.js';
import { Executor } from './executor.js';
import { jobOf, locked, planDeploy, planUndeploy, type StartDeploy, type StartPlan, type StartUndeploy } from './deploy-start.js';
import { Following, type RemoteCommand } from './following.js';

/** How often running deployments are stepped even without reports (pauses, deadlines). */
export const TICK_MS = 500;
/** How long a deploy's start waits for its first step (which may wait on load balancers' drains) before it answers. */
export const FIRST_STEP_WAIT_MS = 2_000;
/** Reports are stepped together, at most once per this (or twice the last round's time, if
 * longer): every step reads each host of the batch in flight (it writes only those that
 * changed), and stepping on each of 1,000 hosts' reports kept the server busy enough that
 * reports timed out. */
export const REPORT_COALESCE_MS = 50;
/** After a server restart, no deadline passes before the agents had this long to report again. */
export const DEFAULT_RESUME_GRACE_MS = 15_000;
/** How often a leader looks for running deployments it does not step (started on another server, a bus message lost). */
export const ADOPT_SCAN_MS = 2_000;

/** Events for live views: every change of a deployment, and each line of its log. */
export interface RolloutEvents {
  change: [row: Deployment];
  log: [id: number, line: RolloutLogLine];
  /** this server wrote the deployment (the server tells the others: their live views, the leader's adoption) */
  written: [id: number];
  /** a person's command for the leader, from a server that follows (the server sends it on) */
  command: [command: RemoteCommand];
  /** the database refused a write under this server's fence: it no longer leads (the server tells its Leadership) */
  fenced: [reason: string];
}

/** Why a deployment is taken up by this server: its start, after a restart, from a server that died, or started elsewhere. */
type Adoption = 'restart' | 'takeover' | 'adopt';

export { jobOf };
export type { RolloutDeps, StartDeploy, StartUndeploy };

export class RolloutController extends EventEmitter<RolloutEvents> {
  private readonly running = new Map<number, RunningDeployment>();
  /** deployments between their insert and the end of their first step (not stepped by the loop yet) */
  private readonly opening = new Map<number, RunningDeployment>();
  private readonly starting = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  /** stopped (`stop`): no loop starts again */
  private stopped = false;
  private reportKick: NodeJS.Timeout | undefined;
  private lastRoundMs = 0;
  private lastRoundEnd = 0;
  /** whether this server steps deployments now, and under which fence (undefined: alone, unfenced) */
  private leading = false;
  private fence: Fence | undefined;
  private readonly adopting = new Set<number>();
  private lastScan = 0;

  private readonly exec: Executor;
  private readonly following: Following;

  constructor(private readonly deps: RolloutDeps) {
    super();
    this.exec = new Executor(deps, () => this.kick());
    const views = {
      listening: () => this.listenerCount('change') + this.listenerCount('log') > 0,
      change: (row: Deployment) => this.emit('change', row),
      log: (id: number, line: RolloutLogLine) => this.emit('log', id, line),
    };
    this.following = new Following(deps.read, views, (c) => this.emit('command', c));
    this.setMaxListeners(0); // one pair of listeners per live view (SSE client); no leak
  }

  /**
   * Starts the stepping timer. Alone (no `elected` in the deps), leads at once: resumes the
   * deployments that were running when the server stopped. Elected, waits for `lead`.
   */
  async start(): Promise<void> {
    this.stopped = false;
    // A round over a large deployment costs (10,000 hosts: a few hundred ms of the server's one
    // thread): the timer's rounds, like the reports', leave at least twice that for requests.
    this.timer = setInterval(() => {
      if (!this.leading) return;
      if (Date.now() - this.lastScan >= ADOPT_SCAN_MS) void this.scan();
      if (Date.now() - this.lastRoundEnd >= 2 * this.lastRoundMs) this.kick();
    }, TICK_MS);
    this.timer.unref();
    if (!this.deps.elected) await this.lead(undefined, 'restart');
  }

  /**
   * This server leads the rollout loop now (under `fence`): it takes up every running
   * deployment it does not step yet (`why`: after its own restart, or from a server that died)
   * and steps them.
   */
  async lead(fence: Fence | undefined, why: Exclude<Adoption, 'adopt'> = 'takeover'): Promise<void> {
    this.leading = true;
    this.fence = fence;
    this.lastScan = Date.now();
    const graceUntil = Date.now() + (this.deps.resumeGraceMs ?? DEFAULT_RESUME_GRACE_MS);
    for (const row of await this.deps.read.runningDeployments()) {
      if (this.fence !== fence || !this.leading) return; // lost again meanwhile
      await this.adopt(row, graceUntil, why);
    }
    this.kick();
  }

  /**
   * This server no longer leads the rollout loop (its lease was lost or taken over): it forgets
   * what it stepped (the leader reads it from the store) and answers waiting commands.
   */
  follow(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.fence = undefined;
    for (const entry of this.running.values()) {
      for (const c of entry.commands.splice(0)) c.done(notLeading(`"${c.action}"`, reason));
      // applied in memory, never saved: the leader reads the deployment from the store without them
      for (const a of entry.unanswered.splice(0)) a.done(a.err ?? notLeading('a command', reason));
    }
    this.running.clear();
    this.following.forget();
  }

  /**
   * A live view subscribed to `change` and `log` and reads the deployment whole next: on a
   * server that follows, the lines the leader logs from now on are sent to it as new.
   */
  viewConnected(): void {
    this.following.viewConnected();
  }

  /** Whether this server steps deployments now. */
  leads(): boolean {
    return this.leading;
  }

  /**
   * Another server wrote deployment `id` (the bus): a leader takes it up if it is running and
   * not stepped here yet; a follower tells its live views.
   */
  async heard(id: number): Promise<void> {
    if (!this.leading) return this.following.changed(id);
    if (this.running.has(id) || this.opening.has(id) || this.adopting.has(id)) return;
    const row = await this.deps.read.storedDeployment(id);
    if (row?.status === 'running' && this.leading)
      await this.adopt(row, Date.now() + (this.deps.resumeGraceMs ?? DEFAULT_RESUME_GRACE_MS), 'adopt');
  }

  /** Changes may have been missed (the bus was away): a leader looks for deployments to take up, a follower reads again. */
  resync(): void {
    if (this.leading) void this.scan();
    else this.following.forget();
  }

  /** Stops stepping (the deployments stay running in the store, for the next start). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    clearTimeout(this.reportKick);
    this.stopped = true;
    // a loop that ends with a kick owed starts another (kick): wait until none runs
    while (this.ticking) await this.ticking;
  }

  /** A leader's look for running deployments it does not step (started on another server; a bus message lost). */
  private async scan(): Promise<void> {
    this.lastScan = Date.now();
    try {
      for (const { id } of await this.deps.read.runningDeploymentIds()) await this.heard(id);
    } catch (err) {
      process.emitWarning(`rollout: looking for running deployments failed: ${(err as Error).message}`);
    }
  }

  /** Takes up one running deployment read from the store, and steps it from the next round. */
  private async adopt(row: StoredDeployment, graceUntil: number, why: Adoption): Promise<void> {
    if (this.running.has(row.id) || this.opening.has(row.id) || this.adopting.has(row.id)) return;
    this.adopting.add(row.id);
    const fence = this.fence;
    try {
      if (row.unreadable) throw new NoopsError('NOOPS_E_INTERNAL', row.unreadable);
      const entry = await this.load(row, row.progress, graceUntil);
      entry.fence = fence;
      await this.resume(entry, why);
      if (this.fence === fence && this.leading) this.running.set(row.id, entry);
    } catch (err) {
      if (isFenced(err)) return this.lostFence(err as Error);
      try {
        await this.deps.write.updateDeployment(
          row.id,
          {
            status: 'failed',
            endedAt: new Date().toISOString(),
            message: `the server ${why === 'restart' ? 'restarted' : 'taking it over'} could not resume this deployment: ${(err as Error).message}`,
          },
          fence,
        );
        this.emit('written', row.id);
      } catch (failed) {
        if (isFenced(failed)) this.lostFence(failed as Error);
        else process.emitWarning(`rollout: deployment ${row.id} could not be resumed nor ended: ${(failed as Error).message}`);
      }
    } finally {
      this.adopting.delete(row.id);
    }
  }

  /** The database refused a write under this server's fence: it follows from now on. */
  private lostFence(err: Error): void {
    if (!this.leading) return;
    this.follow(err.message);
    this.emit('fenced', err.message);
  }

  /** Called for every agent report: steps the deployments that involve the host. */
  onReport(host: string): void {
    let mine = false;
    for (const entry of [...this.opening.values(), ...this.running.values()]) {
      if (!entry.hostSet.has(host)) continue;
      entry.dirty?.add(host); // the next step evaluates it again
      mine = true;
    }
    if (!mine || this.reportKick) return;
    this.reportKick = setTimeout(
      () => {
        this.reportKick = undefined;
        this.kick();
      },
      Math.max(REPORT_COALESCE_MS, 2 * this.lastRoundMs),
    );
    this.reportKick.unref();
  }

  /**
   * Starts a deployment (deploy or rollback) of a built release to a cluster; its first batch
   * starts at once. What it starts from is read once (`planDeploy`).
   */
  async startDeploy(req: StartDeploy): Promise<Deployment> {
    return this.open(await planDeploy(this.deps, req));
  }

  /**
   * Starts an undeploy: the hosts that run the cluster's tag (or only `req.hosts`, hosts leaving
   * the cluster) stop its instances, in the cluster's batches (`planUndeploy`).
   *
   * @throws NoopsError NOOPS_E_NOTHING_RUNS, NOOPS_E_DEPLOY_LOCKED
   */
  async startUndeploy(req: StartUndeploy): Promise<Deployment> {
    return this.open(await planUndeploy(this.deps, req));
  }

  /**
   * The tags whose removal from `host` is intended now: those of the running undeploys that
   * include it. The agent route names them in the desired state's `stops`, so an agent applies an
   * undeploy even when it stops more than its share at once (docs/trust.md). Every host of a
   * running undeploy is named, whatever its batch: for a host whose entry is still desired (its
   * batch has not started, or it went back) the name changes nothing, and naming them all
   * leaves no moment between writing a removal and recording it where an agent could miss it.
   */
  async stopsFor(host: string): Promise<string[]> {
    if (!this.leading) return this.following.stopsFor(host);
    // asked by every desired-state answer (10,000 in a deploy's fan-out): nothing copied for a host no undeploy touches
    let tags: string[] | undefined;
    for (const held of [this.opening, this.running]) {
      for (const entry of held.values()) {
        if (entry.row.kind !== 'undeploy' || !entry.hostSet.has(host)) continue;
        tags ??= [];
        if (!tags.includes(entry.row.tag)) tags.push(entry.row.tag);
      }
    }
    return tags === undefined ? [] : tags.sort();
  }

  /** Writes a deployment (and its audit entry) under the cluster's lock, and takes its first step. */
  private async open(plan: StartPlan): Promise<Deployment> {
    const { start: req, release, policy, batches, hasTests } = plan;
    const hosts = batches.flat();
    // One running deployment per cluster. The database decides (a unique index: the writer
    // refuses a second running deployment with NOOPS_E_DEPLOY_LOCKED naming the holder, whichever
    // server wrote the first); the check below and the in-memory set only answer earlier, before
    // reading what the hosts run.
    if (this.starting.has(req.tag)) throw locked(req.tag, undefined);
    this.starting.add(req.tag);
    try {
      const holder = await this.deps.read.runningDeploymentOn(req.tag);
      if (holder) throw locked(req.tag, holder);
      const fence = this.fence;
      const leading = this.leading;
      const { previous, desired } = await plan.previousOf();
      const now = new Date();
      const progress = initialProgress(policy, batches, hasTests, now.toISOString());
      const base: Omit<Deployment, 'id'> = {
        tag: req.tag,
        version: req.version,
        kind: req.kind,
        initiator: req.initiator,
        startedAt: now.toISOString(),
        endedAt: null,
        hosts,
        status: 'running',
        previous,
        hostResults: hostResults(progress),
        conf: { ...policy },
        message: null,
        deadline: new Date(now.getTime() + policy.timeout * 1000).toISOString(),
        progress,
      };
      // The deployment and its audit entry are written together, or neither is. No host has
      // left `queued` yet: the store keeps no per-host state for them (readProgress fills it in).
      const id = await this.deps.write.createDeployment({ ...base, progress: headOf(progress) }, (created) => ({
        at: now.toISOString(),
        actor: req.initiator,
        action: req.kind,
        target: req.tag,
        detail: { deployment: created, version: req.version, hosts, previous, batches, policy },
      }));
      // Another server leads the rollout loop: it takes this deployment up (told through the bus, or by its scan).
      if (!leading) {
        this.emit('written', id);
        return { id, ...base };
      }
      const entry = newRunning({ id, ...base }, progress, release, 0);
      entry.fence = fence;
      entry.desiredAtStart = desired; // read under the lock just now: the first step need not read it again
      entry.replicas = plan.replicas;
      // From here the running row locks the cluster: a failure must end it, then rethrow.
      this.opening.set(id, entry); // stopsFor sees it before its first removal is written
      this.emit('written', id); // after opening.set: this server's own message finds it held, and reads nothing
      // The first step may wait on before-stop hooks (a load balancer's drain, up to its deadline):
      // the caller gets the deployment once the step is done or after FIRST_STEP_WAIT_MS, whichever
      // comes first; a step still waiting then goes on here, and its failure ends the deployment.
      const first = this.firstStep(entry, fence);
      let waited: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        waited = setTimeout(() => resolve('late'), FIRST_STEP_WAIT_MS);
      });
      const outcome = await Promise.race([first, late]).finally(() => clearTimeout(waited));
      // late: the step goes on (firstStep never rejects); a failure ends the deployment with its reason
      if (outcome === 'late') return entry.row;
      if (outcome instanceof Error) throw outcome;
      return entry.row;
    } finally {
      this.starting.delete(req.tag);
    }
  }

  /**
   * A new deployment's first step (it starts batch 1), before anyone else can step it; then it
   * joins the running ones. Resolves with the error that ended it, if one did (never rejects).
   */
  private async firstStep(entry: RunningDeployment, fence: Fence | undefined): Promise<Error | undefined> {
    const id = entry.row.id;
    {
      try {
        // The first step (it starts batch 1) before anyone else can step this deployment.
        await this.tick(entry);
      } catch (err) {
        entry.desiredAtStart = undefined; // going back reads what the failed step left
        if (isFenced(err)) {
          // Another server leads now: it takes the deployment up from the store and carries it on.
          this.lostFence(err as Error);
          return undefined;
        }
        await this.abandon(entry, err as Error);
        return err as Error;
      } finally {
        this.opening.delete(id);
        entry.desiredAtStart = undefined; // only the first step may use it (one whose hooks all failed wrote nothing)
      }
      if (entry.row.status === 'running' && this.leading && this.fence === fence) this.running.set(id, entry);
      return undefined;
    }
  }

  /**
   * Ends a deployment whose start failed after its row was written (else its cluster stays
   * locked): the hosts it changed go back to what they ran, and it ends failed. When the store
   * refuses even that, the stepping loop takes it over with an abort, which reverts and ends it
   * on a later tick.
   */
  private async abandon(entry: RunningDeployment, err: Error): Promise<void> {
    const { row } = entry;
    try {
      const desired = await this.deps.read.desired(row.tag);
      // a deploy changed the hosts whose entry it wrote; an undeploy, those whose entry it removed
      const changed =
        row.kind === 'undeploy'
          ? row.hosts.filter((h) => row.previous[h] != null && !desired.some((d) => d.host === h))
          : desired.filter((d) => d.deploymentId === row.id).map((d) => d.host);
      await this.exec.ensureDesiredMany(
        entry,
        changed.map((host) => ({ host, version: row.previous[host] ?? null })),
        'rollback',
      );
      Object.assign(row, {
        status: 'failed',
        endedAt: new Date().toISOString(),
        message: `the deployment could not start: ${err.message}`,
      });
      await this.deps.write.updateDeployment(row.id, { status: row.status, endedAt: row.endedAt, message: row.message }, entry.fence);
      this.emit('written', row.id);
      this.emit('change', row);
    } catch (cleanup) {
      // fenced: the server that leads now takes the deployment up and ends it
      if (isFenced(cleanup)) return this.lostFence(cleanup as Error);
      process.emitWarning(
        `rollout: deployment ${row.id} could not start (${err.message}) nor be ended (${(cleanup as Error).message}); aborting it on the next ticks`,
      );
      Object.assign(row, { status: 'running', endedAt: null, message: null });
      entry.commands.push({ action: 'abort', by: 'noops', done: () => undefined });
      this.running.set(row.id, entry);
    }
  }

  /**
   * A person's command to a running deployment: pause, resume, promote, abort. Answers the
   * deployment once the command took effect.
   *
   * @throws NoopsError NOOPS_E_NOT_FOUND, NOOPS_E_DEPLOY_STATE (ended, or not where the command makes sense)
   */
  async act(id: number, action: DeploymentAction, by: string): Promise<Deployment> {
    if (!this.leading) return this.following.act(id, action, by); // the leader applies it
    const entry = this.running.get(id);
    if (!entry) {
      const row = await this.deps.read.deploymentStatus(id);
      if (!row) throw new NoopsError('NOOPS_E_NOT_FOUND', `no deployment #${id}`);
      if (row.status === 'running')
        throw new NoopsError('NOOPS_E_DEPLOY_STATE', `cannot ${action} deployment #${id} yet: it is starting; try again in a moment`);
      throw new NoopsError('NOOPS_E_DEPLOY_STATE', `cannot ${action} deployment #${id}: it has ended (${row.status})`);
    }
    applyCommand(entry.progress, action, by, Date.now()); // a clear error now; the tick applies it
    await new Promise<void>((resolve, reject) => {
      entry.commands.push({ action, by, done: (err) => (err ? reject(err) : resolve()) });
      this.kick();
    });
    await this.deps.write.audit(
      {
        at: new Date().toISOString(),
        actor: by,
        action: `deploy.${action}`,
        target: entry.row.tag,
        detail: { deployment: id },
      },
      entry.fence,
    );
    return entry.row;
  }

  /** A running deployment as it is now (fresher than the store between two writes). */
  current(id: number): Deployment | undefined {
    return this.running.get(id)?.row;
  }

  /** Whether a deployment is a deploy or a rollback (what NOOPS_DEPLOY_KIND tells processes). */
  async kindOf(id: number): Promise<DeploymentKind> {
    return this.running.get(id)?.row.kind ?? (await this.deps.read.deploymentStatus(id))?.kind ?? 'deploy';
  }

  /** The version `noops rollback` goes back to when none is named. */
  async rollbackTarget(tag: string): Promise<string> {
    // an undeploy ran no release: it is no step back to
    const done = (await this.deps.read.succeededDeployments(tag, 200)).filter((d) => d.kind !== 'undeploy');
    const target = previousVersion(done);
    if (!target) {
      throw new NoopsError(
        'NOOPS_E_NO_PREVIOUS',
        done.length === 0
          ? `${tag} has no succeeded deployment yet, so there is nothing to roll back to`
          : `${tag} has run only ${done[0]!.version}, so there is no earlier version to roll back to`,
      );
    }
    return target;
  }

  // ---- stepping

  /** Steps every running deployment now, or once more after the current round. */
  private kick(): void {
    if (!this.leading || this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = (async () => {
      do {
        this.again = false;
        const t0 = Date.now();
        for (const entry of [...this.running.values()]) {
          try {
            await this.tick(entry);
          } catch (err) {
            if (isFenced(err)) {
              this.lostFence(err as Error); // another server leads: it carries these deployments on
              break;
            }
            // A store error must not stop the loop; the next tick tries again, with every host.
            entry.dirty = undefined;
            process.emitWarning(`rollout: stepping deployment ${entry.row.id} failed: ${(err as Error).stack ?? err}`);
          }
        }
        this.lastRoundEnd = Date.now();
        this.lastRoundMs = this.lastRoundEnd - t0;
      } while (this.again);
    })().finally(() => {
      this.ticking = undefined;
      // a kick between the loop's last look at `again` and here would be lost: it runs now
      if (this.again) this.kick();
    });
  }

  /**
   * One round of a deployment (`round`), its hosts woken after it: those whose desired state its
   * actions wrote are woken once its progress is saved (or the round failed), not while it still
   * writes. A deploy to 10,000 hosts woke them inside its first step, and their answers went out
   * while the deploy call still saved the deployment's hosts: on PostgreSQL 4,500 of the 10,000
   * answers were written inside the call (docs/benchmarks.md, session 35).
   */
  private async tick(entry: RunningDeployment): Promise<void> {
    const outer = entry.wakeAfterSave;
    entry.wakeAfterSave = [];
    try {
      await this.round(entry);
    } finally {
      this.wakeWritten(entry);
      entry.wakeAfterSave = outer;
    }
  }

  /** Wakes the hosts this round wrote so far (its list emptied). */
  private wakeWritten(entry: RunningDeployment): void {
    const written = entry.wakeAfterSave;
    if (written === undefined || written.length === 0) return;
    for (const host of written.splice(0)) this.deps.notify(host);
  }

  private async round(entry: RunningDeployment): Promise<void> {
    if (!this.leading || entry.fence !== this.fence) return; // stepped by another server now
    const { row } = entry;
    const now = Date.now();
    let p = entry.progress;
    // What waited for this round. Taken off the entry's lists, and put back at their front if the
    // round's actions fail (the progress they went into is then dropped, not saved).
    const commands = entry.commands.splice(0);
    const testResults = entry.testResults.splice(0);
    const notes = entry.notes.splice(0);
    const settled: Answer[] = [];
    for (const c of commands) {
      try {
        p = applyCommand(p, c.action, c.by, now);
        settled.push({ done: c.done });
      } catch (err) {
        settled.push({ done: c.done, err: err as Error });
      }
    }
    for (const t of testResults) p = recordTestEnd(p, t.batch, t.commands, now);
    if (notes.length > 0) p = addLog(p, notes, now);
    // the hosts that reported since the last step (a step that fails before its save: every host again, below)
    const changed = entry.dirty;
    entry.dirty = new Set();
    const r = step(p, {
      version: row.version,
      undeploy: row.kind === 'undeploy',
      previous: row.previous,
      expected: entry.expected,
      obs: this.observations(entry),
      hookFailures: entry.hookFailures,
      changed,
      hostsOwned: true, // the entry's map of hosts, written in place: no copy of it at every round
      now,
      graceUntil: entry.graceUntil,
    });
    p = r.progress;
    let ended: Extract<RolloutAction, { type: 'end' }> | undefined;
    try {
      for (const a of r.actions) {
        // A later action may wait (a before-stop hook's drain, a deploy test): the hosts the earlier
        // ones wrote (a revert's) are woken now, not after it; a round of one action wakes after its save.
        if (a.type === 'deploy' || a.type === 'revert' || a.type === 'test') this.wakeWritten(entry);
        if (a.type === 'deploy') {
          await this.exec.deploy(entry, a.hosts);
          this.stageNext(entry, p);
        } else if (a.type === 'revert') {
          this.unstage(entry); // going back: the next batch will not come
          await this.exec.revert(entry, a.hosts);
        } else if (a.type === 'healthy') void this.exec.afterHealthy(entry, a.host, a.version);
        else if (a.type === 'test') p = recordTestStart(p, a.batch, await this.exec.startTests(entry, p, a.batch), now);
        else {
          ended = a;
          this.unstage(entry);
        }
      }
    } catch (err) {
      // Not carried out: the step wrote its hosts into the entry's map, which goes back to what it
      // was, so that the next round (every host again) takes the step again from where it started.
      for (const [h, hp] of r.before) p.hosts[h] = hp;
      if (this.holds(entry)) {
        entry.commands.unshift(...commands);
        entry.testResults.unshift(...testResults);
        entry.notes.unshift(...notes);
      } else for (const c of commands) c.done(notLeading(`"${c.action}"`)); // this server stopped leading meanwhile
      throw err;
    }
    // written at the save below, or at the next one if it fails (the map has them already)
    entry.unsaved.push(...r.changed);
    try {
      await this.save(entry, p, ended);
    } catch (err) {
      // The progress in memory holds the commands now; they are answered once a save writes them
      // (or when this server stops leading: `follow`), or at once if it stopped meanwhile.
      if (this.holds(entry)) entry.unanswered.push(...settled);
      else for (const s of settled) s.done(s.err ?? notLeading('the command'));
      throw err;
    }
    for (const s of [...entry.unanswered.splice(0), ...settled]) s.done(s.err);
  }

  /** Writes a changed progress (and the end) to the store, then tells the live views. */
  private async save(
    entry: RunningDeployment,
    p: RolloutProgress,
    endedNow: Extract<RolloutAction, { type: 'end' }> | undefined,
  ): Promise<void> {
    const { row } = entry;
    const before = entry.progress;
    // an end whose save the store refused is written by the next save, whatever that round's step did
    const ended = endedNow ?? entry.ending;
    // What changed: the hosts whose entry a step replaced since the last save (`unsaved`), and
    // the rest of the progress (its plan, phase and log: at 10,000 hosts, the plan's names are
    // about 150 kB, against about 2 MB with every host's entry).
    const changed = entry.unsaved.length > 0 ? [...new Set(entry.unsaved.splice(0))] : [];
    const head = headOf(p);
    const json = headJson(p);
    if (!ended && changed.length === 0 && json === entry.savedJson) return;
    const fresh = newLines(before.log, p.log);
    entry.progress = p;
    row.progress = p;
    for (const h of changed) row.hostResults[h] = hostResult(p.hosts[h]!);
    if (p.phase === 'deploying' || p.phase === 'reverting') {
      row.deadline = new Date(Date.parse(p.phaseSince) + p.policy.timeout * 1000).toISOString();
    }
    if (ended) Object.assign(row, { status: ended.status, endedAt: new Date().toISOString(), message: ended.message });
    try {
      await this.deps.write.updateDeployment(
        row.id,
        {
          progress: head,
          progressJson: json, // serialized above: written as is
          hostChanges: changed.map((host) => ({ host, progress: p.hosts[host]!, result: row.hostResults[host]! })),
          deadline: row.deadline,
          ...(ended ? { status: row.status, endedAt: row.endedAt, message: row.message } : {}),
        },
        entry.fence,
      );
    } catch (err) {
      entry.unsaved.push(...changed); // the next save writes them (and the head: savedJson unchanged)
      entry.ending = ended;
      throw err;
    }
    entry.savedJson = json;
    entry.ending = undefined;
    if (ended) {
      this.running.delete(row.id);
      // commands that came in while this step ran are answered: nothing is left to steer
      for (const c of entry.commands.splice(0))
        c.done(new NoopsError('NOOPS_E_DEPLOY_STATE', `cannot ${c.action} deployment #${row.id}: it has ended (${row.status})`));
      try {
        await this.deps.write.audit(
          {
            at: row.endedAt!,
            actor: 'noops',
            action: `${row.kind}.${row.status}`,
            target: row.tag,
            detail: { deployment: row.id, version: row.version, message: row.message },
          },
          entry.fence,
        );
      } catch (err) {
        // The end is written: its audit entry missing undoes nothing, and the views must hear of it.
        if (isFenced(err)) this.lostFence(err as Error);
        else
          process.emitWarning(
            `rollout: deployment ${row.id} ended ${row.status}, but its audit entry could not be written: ${(err as Error).message}`,
          );
      }
    }
    this.emit('written', row.id);
    for (const line of fresh) this.emit('log', row.id, line);
    this.emit('change', row);
  }

  /** Whether this server still steps `entry` (it may have stopped leading while a round waited). */
  private holds(entry: RunningDeployment): boolean {
    const id = entry.row.id;
    return this.leading && entry.fence === this.fence && (this.running.get(id) === entry || this.opening.get(id) === entry);
  }

  /** Each host's observation, read when the step asks for it: a step looks at the hosts in flight, not at all of them. */
  private observations(entry: RunningDeployment): StepInput['obs'] {
    const { row } = entry;
    return {
      get: (h) => {
        const o = observe(row.tag, this.deps.lastReport(h));
        const hook = entry.hookFailures.get(h);
        return hook ? { processes: o?.processes ?? [], failure: { tag: row.tag, version: row.version, error: hook } } : o;
      },
    };
  }

  // ---- loading

  /**
   * Names the deployment's package to the hosts of the batch after the one that just started, so
   * that they download it while this batch starts and proves healthy (docs/packages-p2p.md). Only
   * for a deploy: a rollback goes back to releases hosts mostly still have on disk, and an undeploy
   * fetches nothing. Not after the last batch; never awaited by the step.
   */
  private stageNext(entry: RunningDeployment, p: RolloutProgress): void {
    const next = p.batches[p.batch + 1];
    const stage = this.deps.stage;
    if (stage === undefined || next === undefined || next.length === 0 || entry.row.kind !== 'deploy') return;
    const { tag, version } = entry.row;
    // one after the other: an unstaging that waits for them finds every row they wrote
    entry.staging = (entry.staging ?? Promise.resolve()).then(() =>
      stage([...next], { tag, version, sha256: entry.release.sha256 }).catch((err: Error) => {
        entry.notes.push(`the next batch's package could not be staged: ${err.message}`);
      }),
    );
  }

  /** The deployment's package is no longer staged for its hosts (it ended, or goes back): once its stagings are written. */
  private unstage(entry: RunningDeployment): void {
    const unstage = this.deps.unstage;
    if (entry.row.kind !== 'deploy' || unstage === undefined) return;
    const { tag } = entry.row;
    const { sha256 } = entry.release;
    if (entry.staging === undefined) unstage(tag, sha256);
    else void entry.staging.then(() => unstage(tag, sha256));
  }

  private async load(row: Omit<Deployment, 'progress'>, saved: RolloutProgress | null, graceUntil: number): Promise<RunningDeployment> {
    const release = await this.exec.releaseFor(row.tag, row.version);
    // A deployment recorded before batched rollouts: all its hosts in one batch, started again.
    const progress = saved ?? initialProgress(resolvePolicy(), [row.hosts], false, row.startedAt);
    const entry = newRunning(row, progress, release, graceUntil);
    // Its next save writes every host that left `queued` as a row of its own: a deployment
    // stored before 0026 kept them in its progress column, which the save replaces.
    entry.unsaved = Object.keys(progress.hosts).filter((h) => progress.hosts[h]!.state !== 'queued');
    entry.savedJson = ''; // and its progress column: written whole, without the hosts
    return entry;
  }

  /** After a restart or a takeover: the desired state of the hosts in flight again, and the tests that were running. */
  private async resume(entry: RunningDeployment, why: Adoption): Promise<void> {
    const { row, progress: p } = entry;
    // All of them in one read and one write per kind: one host at a time read the tag's every
    // desired row per host, and a takeover in the middle of a deploy to 10,000 hosts held the
    // event loop for minutes (no connection accepted, no report answered).
    const forward: { host: string; version: string | null }[] = [];
    const reverting: { host: string; version: string | null }[] = [];
    for (const [host, hp] of Object.entries(p.hosts)) {
      if (hp.state === 'deploying' || hp.state === 'healthy') forward.push({ host, version: row.kind === 'undeploy' ? null : row.version });
      if (hp.state === 'reverting') reverting.push({ host, version: row.previous[host] ?? null });
    }
    await this.exec.ensureDesiredMany(entry, forward, row.kind);
    await this.exec.ensureDesiredMany(entry, reverting, 'rollback');
    if (p.phase === 'testing') {
      entry.progress = recordTestStart(p, p.batch, await this.exec.startTests(entry, p, p.batch), Date.now());
    }
    const where = `${p.phase}, batch ${p.batch + 1} of ${p.batches.length}`;
    if (why === 'restart') entry.notes.push(`the server restarted; resuming (${where})`);
    else if (why === 'takeover') entry.notes.push(`server ${entry.fence?.holder ?? '?'} took the rollout loop over; resuming (${where})`);
  }
}

/** The answer to a command this server took up and can no longer carry out: another server leads rollouts now. */
function notLeading(what: string, reason = 'another server leads them now'): NoopsError {
  return new NoopsError('NOOPS_E_NO_LEADER', `this server stopped leading rollouts before it applied ${what}: ${reason}`);
}

function isFenced(err: unknown): boolean {
  return err instanceof NoopsError && err.code === 'NOOPS_E_FENCED';
}
