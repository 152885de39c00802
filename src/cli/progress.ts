/**
 * Showing a rollout as it happens. On a terminal: a progress bar per batch with each host's
 * state (cli-progress), the log above them. Elsewhere (a pipe, a CI log): plain lines, one per
 * thing that happened.
 */
import cliProgress from 'cli-progress';
import type { DeploymentView, HostProgress, RolloutLogLine, RolloutProgress } from '../api/index.js';

/** What a renderer is told as a deployment goes. */
export interface RolloutRenderer {
  /** the deployment changed (the first call shows where it is) */
  update(d: DeploymentView): void;
  /** a line of its log */
  log(line: RolloutLogLine): void;
  /** it ended, or we stop following it */
  close(d: DeploymentView): void;
}

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
            ? 'waiting at the canary for `noops deploy promote`'
            : p.phase === 'reverting'
              ? 'going back to the previous release'
              : 'ended';
  return p.paused ? `${what} (paused)` : what;
}

/** The first line: what is deployed where, in which batches. */
export function headline(d: DeploymentView): string {
  const plan = d.progress ? ` in ${d.progress.batches.length} batch(es): ${d.progress.batches.map((b) => b.join(',')).join(' | ')}` : '';
  const what = d.kind === 'undeploy' ? `stops ${d.version}` : `-> ${d.version}`;
  return `${d.kind} #${d.id}: ${d.tag} ${what} on ${d.hostCount} host(s)${plan}`;
}

/** The last line: how it ended. */
export function ending(d: DeploymentView): string {
  return `${d.kind} #${d.id} ${d.status.replace('_', ' ')}${d.message ? `: ${d.message}` : ''}`;
}

/** Each batch's hosts with their state: "h1 ✓  h2 …  h3 ✗". */
export function batchLine(p: RolloutProgress, i: number): string {
  return p.batches[i]!.map((h) => `${h} ${MARK[p.hosts[h]?.state ?? 'queued']}`).join('  ');
}

/** Plain lines: the headline, each log line with its time, the ending. */
export class PlainRenderer implements RolloutRenderer {
  private started = false;
  constructor(private readonly out: NodeJS.WritableStream) {}

  update(d: DeploymentView): void {
    if (this.started) return;
    this.started = true;
    this.out.write(`${headline(d)}\n`);
  }

  log(line: RolloutLogLine): void {
    this.out.write(`  ${line.at.slice(11, 19)} ${line.message}\n`);
  }

  close(d: DeploymentView): void {
    this.out.write(`${ending(d)}\n`);
  }
}

/** Bars on a terminal: one per batch (hosts done of the batch's hosts), and the phase. */
export class TtyRenderer implements RolloutRenderer {
  private readonly bars: cliProgress.MultiBar;
  private readonly batchBars: cliProgress.SingleBar[] = [];
  private status: cliProgress.SingleBar | undefined;
  private started = false;

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

  update(d: DeploymentView): void {
    const p = d.progress;
    if (!this.started) {
      this.started = true;
      this.bars.log(`${headline(d)}\n`);
      if (p)
        for (const [i, b] of p.batches.entries()) {
          this.batchBars.push(this.bars.create(b.length, 0, { label: `batch ${i + 1}/${p.batches.length}`, hosts: '' }));
        }
      this.status = this.bars.create(1, 0, { label: 'status', hosts: '' }, { format: ' {label}  {hosts}' });
    }
    if (!p) return;
    p.batches.forEach((b, i) => {
      const done = b.filter((h) => FINAL.has(p.hosts[h]?.state ?? 'queued')).length;
      this.batchBars[i]?.update(done, { hosts: batchLine(p, i) });
    });
    this.status?.update(0, { hosts: d.status === 'running' ? describe(p) : d.status.replace('_', ' ') });
  }

  log(line: RolloutLogLine): void {
    this.bars.log(`${line.at.slice(11, 19)} ${line.message}\n`);
  }

  close(d: DeploymentView): void {
    this.update(d);
    this.bars.stop();
    this.out.write(`${ending(d)}\n`);
  }
}

/** The renderer for a stream: bars on a terminal, plain lines elsewhere. */
export function rendererFor(out: NodeJS.WritableStream): RolloutRenderer {
  const tty = (out as NodeJS.WriteStream).isTTY === true && process.env.TERM !== 'dumb';
  return tty ? new TtyRenderer(out as NodeJS.WriteStream) : new PlainRenderer(out);
}
