/**
 * What a server that does not lead the rollout loop knows of the deployments another server
 * steps (issue 14: one leader per control loop, every server answering every call). It reads
 * the store, told by the leader through the server's change bus when a deployment changed:
 *
 * - `stopsFor`: the tags a running undeploy removes from a host, for the host's desired answer;
 * - `changed`: a deployment's change and new log lines, for the live views connected here;
 * - `act`: a person's pause, resume, promote or abort, passed to the leader and waited for.
 */
import { NoopsError } from '../errors/index.js';
import type { DeploymentAction } from '../api/index.js';
import type { Deployment, RolloutReader } from './ports.js';
import type { RolloutLogLine } from './types.js';
import { applyCommand, commandLine } from './progress-updates.js';
import { newLines } from './running-deployment.js';

/** How long a command waits for the leader to apply it. */
export const COMMAND_WAIT_MS = 15_000;
/** A command not yet applied is sent again this often (a leader that took over since did not hear it). */
export const COMMAND_RESEND_MS = 3_000;
/** How often a waiting command reads the deployment back. */
const COMMAND_POLL_MS = 100;

/** A person's command on its way to the leader. */
export interface RemoteCommand {
  id: number;
  action: DeploymentAction;
  by: string;
}

/** The live views connected to this server (the controller's events). */
export interface LiveViews {
  /** whether any view listens now (else nothing is read) */
  listening(): boolean;
  change(row: Deployment): void;
  log(id: number, line: RolloutLogLine): void;
}

/** See the file's comment. */
export class Following {
  private undeploys = new Map<number, { tag: string; hosts: Set<string> }>();
  /** a read of the running undeploys that has not started yet: the calls made meanwhile share it */
  private nextRead: Promise<void> | undefined;
  /** the read running now */
  private reading: Promise<void> | undefined;
  /** the log each relayed deployment had, to send only new lines */
  private readonly logs = new Map<number, RolloutLogLine[]>();
  private relaying: Promise<void> = Promise.resolve();
  /** when a live view last connected here (ISO): lines logged since are new to it */
  private viewSince = '';

  constructor(
    private readonly read: Pick<RolloutReader, 'runningDeploymentIds' | 'storedDeployment'>,
    private readonly views: LiveViews,
    /** sends a command to the leader (the server's bus) */
    private readonly send: (command: RemoteCommand) => void,
  ) {}

  /**
   * The tags running undeploys remove from `host`, from a read of the store that started after
   * this call: the host's desired answer was made after the undeploy's removal was written, so
   * the read sees the undeploy (a kept list could predate it: the bus carries the removal's wake
   * and the undeploy's name on two connections, in no set order). Calls at once share one read,
   * one indexed query of the running deployments' ids; an undeploy's hosts are read once.
   */
  async stopsFor(host: string): Promise<string[]> {
    if (!this.nextRead) {
      const after = this.reading ?? Promise.resolve();
      this.nextRead = after.then(() => {
        this.nextRead = undefined;
        this.reading = this.readUndeploys().finally(() => {
          this.reading = undefined;
        });
        return this.reading;
      });
    }
    await this.nextRead;
    const tags = new Set<string>();
    for (const u of this.undeploys.values()) if (u.hosts.has(host)) tags.add(u.tag);
    return [...tags].sort();
  }

  /** The leader wrote deployment `id`: read it again for the live views here, and the stops. */
  changed(id: number): Promise<void> {
    this.relaying = this.relaying
      .then(() => this.relay(id))
      .catch((err: Error) => {
        process.emitWarning(`rollout: reading deployment ${id} for the live views failed: ${err.message}`);
      });
    return this.relaying;
  }

  /** A live view connected: it read the deployment whole just now, so what is logged from now on is new to it. */
  viewConnected(): void {
    this.viewSince = new Date().toISOString();
  }

  /** Everything may have changed (the bus was away): forget what the undeploys' hosts were. */
  forget(): void {
    this.undeploys.clear();
  }

  /**
   * Passes a person's command to the leader and waits until the stored deployment shows it
   * applied. Refused at once, with the leader's words, when it cannot apply (`applyCommand`).
   *
   * @throws NoopsError NOOPS_E_NOT_FOUND, NOOPS_E_DEPLOY_STATE, NOOPS_E_NO_LEADER (not applied within COMMAND_WAIT_MS)
   */
  async act(id: number, action: DeploymentAction, by: string): Promise<Deployment> {
    const before = await this.running(id, action);
    applyCommand(before.progress, action, by, Date.now()); // a clear error now, as the leader would give it
    const line = commandLine(action, by);
    const last = lastAt(before.progress.log, line);
    const started = Date.now();
    let sent = 0;
    for (;;) {
      if (Date.now() - sent >= COMMAND_RESEND_MS) {
        this.send({ id, action, by });
        sent = Date.now();
      }
      await new Promise((r) => setTimeout(r, COMMAND_POLL_MS));
      const now = await this.read.storedDeployment(id);
      if (now?.progress && lastAt(now.progress.log, line) !== last) return now as Deployment;
      if (now && now.status !== 'running')
        throw new NoopsError('NOOPS_E_DEPLOY_STATE', `cannot ${action} deployment #${id}: it has ended (${now.status})`);
      if (Date.now() - started > COMMAND_WAIT_MS) {
        throw new NoopsError(
          'NOOPS_E_NO_LEADER',
          `no server applied "${action}" to deployment #${id} within ${COMMAND_WAIT_MS / 1000} s: the server leading rollouts did not answer`,
        );
      }
    }
  }

  private async running(id: number, action: DeploymentAction): Promise<Deployment> {
    const row = await this.read.storedDeployment(id);
    if (!row) throw new NoopsError('NOOPS_E_NOT_FOUND', `no deployment #${id}`);
    if (row.status !== 'running')
      throw new NoopsError('NOOPS_E_DEPLOY_STATE', `cannot ${action} deployment #${id}: it has ended (${row.status})`);
    if (!row.progress)
      throw new NoopsError('NOOPS_E_DEPLOY_STATE', `cannot ${action} deployment #${id}: ${row.unreadable ?? 'it has no progress'}`);
    return row as Deployment;
  }

  private async relay(id: number): Promise<void> {
    if (!this.views.listening()) {
      this.logs.clear();
      return;
    }
    const row = await this.read.storedDeployment(id);
    if (!row?.progress) return;
    const before = this.logs.get(id);
    // A deployment first seen here: its views read it whole when they connected; what was logged since is new.
    const fresh = before ? newLines(before, row.progress.log) : row.progress.log.filter((l) => l.at >= this.viewSince);
    if (row.status === 'running') this.logs.set(id, row.progress.log);
    else this.logs.delete(id);
    for (const line of fresh) this.views.log(id, line);
    this.views.change(row as Deployment);
  }

  private async readUndeploys(): Promise<void> {
    const next = new Map<number, { tag: string; hosts: Set<string> }>();
    for (const d of await this.read.runningDeploymentIds()) {
      if (d.kind !== 'undeploy') continue;
      const known = this.undeploys.get(d.id);
      if (known) {
        next.set(d.id, known);
        continue;
      }
      const row = await this.read.storedDeployment(d.id);
      if (row?.status === 'running') next.set(d.id, { tag: row.tag, hosts: new Set(row.hosts) });
    }
    this.undeploys = next;
  }
}

/** When `message` was last logged ('' when never): a newer one means the command was applied. */
function lastAt(log: readonly RolloutLogLine[], message: string): string {
  for (let i = log.length - 1; i >= 0; i--) if (log[i]!.message === message) return log[i]!.at;
  return '';
}
