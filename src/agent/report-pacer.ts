/**
 * `ReportPacer`: when the agent sends its actual state after a change. Most changes (a process
 * starting or stopping, a cron run, metric points, an event) wait `debounceMs` (the agent's
 * REPORT_DEBOUNCE_MS), so that a burst of them is one report. A health transition (a process
 * becoming healthy or unhealthy) is what naming, the load-balancer pools and a rollout's health
 * gate wait on: it is sent at once, on the next turn of the event loop (every transition of that
 * turn in one report), and takes the place of a debounced report that waits. An ordinary report
 * asked for while one is on its way goes right after it and carries everything since; a
 * transition does not wait for the one on its way (on a loaded machine a report's round trip took
 * 60-460 ms, and a join waited for it): it goes beside it, and the server takes the newer of the
 * two whatever their order of arrival (AgentReport.order). At most URGENT_BURST transitions are
 * sent at once, refilled at URGENT_PER_SECOND: past that they wait the debounce like any change,
 * so a flapping process cannot flood the server.
 *
 *   change(false) ──► debounce (100 ms) ──► send() ── after the one on its way; one waiting at most
 *   change(true)  ──► next turn ──────────► send() ── at once, beside the one on its way
 *
 * @example
 *   const pacer = new ReportPacer({ send: () => agent.report(), debounceMs: 100 });
 *   pacer.change(false); // a process started: reported within 100 ms, with what else changed
 *   pacer.change(true);  // it turned healthy: reported now
 */
import { channel } from 'node:diagnostics_channel';
import type { AgentReport, ProcessReport } from '../api/index.js';

/**
 * Transitions sent at once per second, sustained, and at once in a burst. The server takes 20
 * reports a second from one agent (REPORTS_PER_SECOND, burst 40): the debounced reports are at
 * most 10 a second and the heartbeats about 3 at the tests' 300 ms (0.2 at the default 5 s), so 5
 * more keep a host under its limit even when all three run at their most. A deploy's host turns
 * its processes healthy a few at a time; a burst of 5 covers that, and the rest wait 100 ms.
 */
export const URGENT_PER_SECOND = 5;
export const URGENT_BURST = 5;

export interface ReportPacerOptions {
  /** sends the report (the agent's `report()`); it reads the state when it runs */
  send: () => Promise<void>;
  /** how long an ordinary change waits for others to join it */
  debounceMs: number;
  /** the clock of the transitions' budget (tests) */
  now?: () => number;
}

export class ReportPacer {
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  /** when the armed timer fires (Infinity: none armed) */
  private due = Number.POSITIVE_INFINITY;
  /** reports on their way */
  private sending = 0;
  /** a report was asked for while one was on its way: it follows at once */
  private pending = false;
  /** the armed timer sends a transition: it does not wait for a report on its way */
  private urgent = false;
  private stopped = false;
  private tokens = URGENT_BURST;
  private refilledAt: number;

  constructor(private readonly opts: ReportPacerOptions) {
    this.now = opts.now ?? Date.now;
    this.refilledAt = this.now();
  }

  /** Something the server should hear changed; `transition`: a process turned healthy or unhealthy. */
  change(transition: boolean): void {
    if (this.stopped) return;
    // a transition: the report of this turn (one is due now already, or one of the budget)
    if (transition && (this.due <= this.now() || this.takeToken())) {
      this.urgent = true;
      this.arm(0);
      return;
    }
    if (this.pending) return; // the report that follows the one on its way carries it
    if (this.timer === undefined) this.arm(this.opts.debounceMs);
  }

  /** No more reports. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private takeToken(): boolean {
    const now = this.now();
    this.tokens = Math.min(URGENT_BURST, this.tokens + ((now - this.refilledAt) / 1000) * URGENT_PER_SECOND);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Fires in `ms`, unless a timer armed already fires sooner. */
  private arm(ms: number): void {
    const at = this.now() + ms;
    if (this.timer !== undefined && this.due <= at) return;
    clearTimeout(this.timer);
    this.due = at;
    this.timer = setTimeout(() => this.fire(), ms);
  }

  private fire(): void {
    this.timer = undefined;
    this.due = Number.POSITIVE_INFINITY;
    const urgent = this.urgent;
    this.urgent = false;
    if (this.stopped) return;
    if (this.sending > 0 && !urgent) {
      this.pending = true;
      return;
    }
    this.pending = false; // this report carries everything until now
    void this.run();
  }

  private async run(): Promise<void> {
    this.sending += 1;
    try {
      await this.opts.send();
    } catch {
      // the agent's report() says what failed; the next change or heartbeat sends again
    } finally {
      this.sending -= 1;
    }
    if (this.pending && this.sending === 0 && !this.stopped) {
      this.pending = false;
      await this.run();
    }
  }
}

/**
 * Which supervisor state changes move a process into `up` or out of it: for a process without a
 * health check that is its health (healthy once up), and for one with a check, its check starts
 * at the report that shows it up, and a process that died is unhealthy.
 *
 * @example
 *   const moves = new UpTransitions();
 *   moves.moved('web', 'starting'); // false
 *   moves.moved('web', 'up');       // true
 *   moves.moved('web', 'exited');   // true
 */
export class UpTransitions {
  private readonly up = new Set<string>();

  moved(id: string, state: string): boolean {
    const was = this.up.has(id);
    if (state === 'up') this.up.add(id);
    else this.up.delete(id);
    return was !== (state === 'up');
  }
}

/**
 * The diagnostics channel of each report the server took: `{host, sentAt, answeredAt,
 * processes}` (ms since the epoch; the report's processes). Published only when something
 * listens: bench/balancers times a join from the report that carried it.
 */
export const AGENT_REPORT_CHANNEL = 'noops:agent:report';
const reportChannel = channel(AGENT_REPORT_CHANNEL);

/** What an `AGENT_REPORT_CHANNEL` message holds. */
export interface ReportTiming {
  host: string;
  sentAt: number;
  answeredAt: number;
  processes: readonly ProcessReport[];
}

/** Publishes a report the server took, sent at `sentAt`, on AGENT_REPORT_CHANNEL. */
export function publishReport(host: string, report: AgentReport, sentAt: number): void {
  if (!reportChannel.hasSubscribers) return;
  const timing: ReportTiming = { host, sentAt, answeredAt: Date.now(), processes: report.processes };
  reportChannel.publish(timing);
}
