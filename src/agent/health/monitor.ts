/**
 * The agent's health checks: every running process with a check is probed every `interval`
 * seconds, one probe at a time; its health is `starting` until the first result, then
 * `healthy` (since the first success in a row) or `unhealthy` (with the reason). A new run of
 * the process (another pid) starts over. The server judges "healthy for long enough".
 */
import type { HealthCheck } from '../../release/index.js';
import { probe as realProbe, type Probe, type ProbeTarget } from './probe.js';

export interface HealthStatus {
  health: 'starting' | 'healthy' | 'unhealthy';
  /** ms since the epoch of the first success of the current streak; null unless healthy */
  healthySince: number | null;
  /** the last failure's reason; null when healthy */
  error: string | null;
}

interface Watch {
  /** what identifies this run of the process (pid, start time, version) */
  key: string;
  check: HealthCheck;
  target: ProbeTarget;
  status: HealthStatus;
  timer: NodeJS.Timeout | undefined;
  stopped: boolean;
}

export interface HealthMonitorOptions {
  /**
   * called when a process's health changes (the agent reports then); `transition`: it turned
   * healthy, unhealthy or back (not only the reason of a failure changed)
   */
  onChange: (transition: boolean) => void;
  probe?: Probe;
  now?: () => number;
}

export class HealthMonitor {
  private readonly watches = new Map<string, Watch>();
  private readonly probe: Probe;
  private readonly now: () => number;

  constructor(private readonly opts: HealthMonitorOptions) {
    this.probe = opts.probe ?? realProbe;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Checks process `id` from now on. Called again with the same `key` it changes nothing; with
   * another key (the process was restarted) the check starts over.
   */
  watch(id: string, key: string, check: HealthCheck, target: ProbeTarget): void {
    const cur = this.watches.get(id);
    if (cur && cur.key === key) return;
    if (cur) this.cancel(cur);
    const w: Watch = {
      key,
      check,
      target,
      status: { health: 'starting', healthySince: null, error: null },
      timer: undefined,
      stopped: false,
    };
    this.watches.set(id, w);
    void this.run(w);
  }

  /** Whether process `id` is checked under `key` already: `watch` with it would change nothing. */
  watching(id: string, key: string): boolean {
    return this.watches.get(id)?.key === key;
  }

  /** Stops checking a process (it stopped, or is no longer ours). */
  forget(id: string): void {
    const w = this.watches.get(id);
    if (!w) return;
    this.cancel(w);
    this.watches.delete(id);
  }

  /** Stops checking every process not in `ids`. */
  retain(ids: ReadonlySet<string>): void {
    for (const id of [...this.watches.keys()]) if (!ids.has(id)) this.forget(id);
  }

  status(id: string): HealthStatus | undefined {
    return this.watches.get(id)?.status;
  }

  stop(): void {
    for (const id of [...this.watches.keys()]) this.forget(id);
  }

  private cancel(w: Watch): void {
    w.stopped = true;
    clearTimeout(w.timer);
  }

  private async run(w: Watch): Promise<void> {
    if (w.stopped || w.check.type === 'none') return;
    const reason = await this.probe(w.check, w.target);
    if (w.stopped) return;
    const prev = w.status;
    const next: HealthStatus =
      reason === null
        ? { health: 'healthy', healthySince: prev.health === 'healthy' ? prev.healthySince : this.now(), error: null }
        : { health: 'unhealthy', healthySince: null, error: reason };
    w.status = next;
    if (prev.health !== next.health || prev.error !== next.error) this.opts.onChange(prev.health !== next.health);
    w.timer = setTimeout(() => void this.run(w), w.check.interval * 1000);
    w.timer.unref();
  }
}
