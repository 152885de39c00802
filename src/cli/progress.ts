/**
 * Showing a rollout as it happens, from its summaries (counts per state, the hosts in flight:
 * a few kB however many hosts it has). On a terminal: a progress bar per batch with its hosts
 * per state and those in flight (cli-progress), the log above them. Elsewhere (a pipe, a CI
 * log): plain lines, one per thing that happened.
 */
import cliProgress from 'cli-progress';
import { isSummary } from '../api/index.js';
import type {
  DeploymentSummary,
  DeploymentView,
  HostProgress,
  RolloutLogLine,
  RolloutProgress,
  StateCounts,
  SummaryProgress,
} from '../api/index.js';

/** What a renderer is told as a deployment goes. */
export interface RolloutRenderer {
  /** the deployment as it started (the deploy call's answer, with its plan): whole, or its summary (a large one) */
  start(d: DeploymentView | DeploymentSummary): void;
  /** the deployment changed */
  update(s: DeploymentSummary): void;
  /** a line of its log */
  log(line: RolloutLogLine): void;
  /** it ended, or we stop following it */
  close(s: DeploymentSummary): void;
}

/** A plan with more hosts than this is told in counts, not names, in the first line. */
export const HEADLINE_HOSTS_MAX = 30;
/** Names of hosts in flight shown beside a batch's bar. */
const BAR_NAMES_MAX = 6;

/** A host's state in one character, for the bars: ✓ succeeded, ✗ failed, ↩ reverted, … */
const MARK: Record<HostProgress['state'], string> = {
  queued: '·',
  deploying: '…',
  healthy: '+',
  succeeded: '✓',
  failed: '✗',
  reverting: '↩',
  reverted: '↩',
  stopped: '■',
  skipped: '-',
};
/** The states after which a host's part in the batch is over. */
const FINAL = new Set<HostProgress['state']>(['succeeded', 'failed', 'reverted', 'stopped', 'skipped']);

/** Where a deployment is, in words: "deploying batch 2 of 4", "waiting at the canary (paused)". */
export function describe(p: Pick<RolloutProgress, 'batch' | 'phase' | 'paused'> & { batches: readonly unknown[] }): string {
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
            ? 'waiting at the canary for `noops deploy promote`'
            : p.phase === 'reverting'
              ? 'going back to the previous release'
              : 'ended';
  return p.paused ? `${what} (paused)` : what;
}

/** Each batch's size, from a deployment or its summary; null before batched rollouts. */
export function batchSizes(d: DeploymentView | DeploymentSummary): number[] | null {
  if (!d.progress) return null;
  return isSummary(d) ? d.progress.batches.map((b) => b.size) : d.progress.batches.map((b) => b.length);
}

/**
 * The first line: what is deployed where, in which batches (their sizes only when the plan is
 * large, or when only the summary is at hand, which names no host).
 */
export function headline(d: DeploymentView | DeploymentSummary): string {
  const sizes = batchSizes(d);
  const names = isSummary(d) || d.hostCount > HEADLINE_HOSTS_MAX ? null : d.progress?.batches;
  const plan = !sizes
    ? ''
    : names
      ? ` in ${names.length} batch(es): ${names.map((b) => b.join(',')).join(' | ')}`
      : ` in ${sizes.length} batch(es) of ${sizes.join(', ')} host(s)`;
  const what = d.kind === 'undeploy' ? `stops ${d.version}` : `-> ${d.version}`;
  return `${d.kind} #${d.id}: ${d.tag} ${what} on ${d.hostCount} host(s)${plan}`;
}

/** The last line: how it ended. */
export function ending(d: Pick<DeploymentView, 'kind' | 'id' | 'status' | 'message'>): string {
  return `${d.kind} #${d.id} ${d.status.replace('_', ' ')}${d.message ? `: ${d.message}` : ''}`;
}

/** Each batch's hosts with their state: "h1 ✓  h2 …  h3 ✗". */
export function batchLine(p: RolloutProgress, i: number): string {
  return p.batches[i]!.map((h) => `${h} ${MARK[p.hosts[h]?.state ?? 'queued']}`).join('  ');
}

/** A batch's hosts per state, in marks: "✓ 98  ✗ 2"; and the names of those in flight. */
export function countsLine(states: StateCounts, inFlight: readonly string[] = []): string {
  const marks = (Object.keys(MARK) as HostProgress['state'][])
    .filter((st) => (states[st] ?? 0) > 0)
    .map((st) => `${MARK[st]} ${states[st]}`)
    .join('  ');
  const names =
    inFlight.length === 0 ? '' : `  (${inFlight.slice(0, BAR_NAMES_MAX).join(' ')}${inFlight.length > BAR_NAMES_MAX ? ' …' : ''})`;
  return marks + names;
}

/** How many of a batch's hosts are done with it. */
function doneOf(states: StateCounts): number {
  let n = 0;
  for (const st of FINAL) n += states[st] ?? 0;
  return n;
}

/** Plain lines: the headline, each log line with its time, the ending. */
export class PlainRenderer implements RolloutRenderer {
  constructor(private readonly out: NodeJS.WritableStream) {}

  start(d: DeploymentView | DeploymentSummary): void {
    this.out.write(`${headline(d)}\n`);
  }

  update(_s: DeploymentSummary): void {}

  log(line: RolloutLogLine): void {
    this.out.write(`  ${line.at.slice(11, 19)} ${line.message}\n`);
  }

  close(s: DeploymentSummary): void {
    this.out.write(`${ending(s)}\n`);
  }
}

/** Bars on a terminal: one per batch (hosts done of the batch's hosts), and the phase. */
export class TtyRenderer implements RolloutRenderer {
  private readonly bars: cliProgress.MultiBar;
  private readonly batchBars: cliProgress.SingleBar[] = [];
  private status: cliProgress.SingleBar | undefined;
  constructor(private readonly out: NodeJS.WriteStream) {
    this.bars = new cliProgress.MultiBar(
      {
        stream: out,
        format: ' {label} {bar} {value}/{total}  {hosts}',
        barsize: 20,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        autopadding: true,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  start(d: DeploymentView | DeploymentSummary): void {
    this.bars.log(`${headline(d)}\n`);
    const sizes = batchSizes(d) ?? [];
    for (const [i, size] of sizes.entries()) {
      this.batchBars.push(this.bars.create(size, 0, { label: `batch ${i + 1}/${sizes.length}`, hosts: '' }));
    }
    this.status = this.bars.create(1, 0, { label: 'status', hosts: '' }, { format: ' {label}  {hosts}' });
  }

  update(s: DeploymentSummary): void {
    const p: SummaryProgress | null = s.progress;
    if (!p) return;
    p.batches.forEach((b, i) => {
      const flying = s.inFlight.filter((h) => h.batch === i).map((h) => h.host);
      this.batchBars[i]?.update(doneOf(b.states), { hosts: countsLine(b.states, flying) });
    });
    this.status?.update(0, { hosts: s.status === 'running' ? describe(p) : s.status.replace('_', ' ') });
  }

  log(line: RolloutLogLine): void {
    this.bars.log(`${line.at.slice(11, 19)} ${line.message}\n`);
  }

  close(s: DeploymentSummary): void {
    this.update(s);
    this.bars.stop();
    this.out.write(`${ending(s)}\n`);
  }
}

/** The renderer for a stream: bars on a terminal, plain lines elsewhere. */
export function rendererFor(out: NodeJS.WritableStream): RolloutRenderer {
  const tty = (out as NodeJS.WriteStream).isTTY === true && process.env.TERM !== 'dumb';
  return tty ? new TtyRenderer(out as NodeJS.WriteStream) : new PlainRenderer(out);
}
