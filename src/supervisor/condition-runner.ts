/**
 * Runs the conditions of one `up` process: each on its own timer, the next check scheduled when
 * the last one ended (a slow HTTP check never piles up), judged N of M.
 */
import { describeCondition, judge, type CheckResult, type ConditionSpec } from './conditions.js';
import { checkCommand, checkCpu, checkHttp, checkMemory, checkTcp, type ProbeTarget } from './probes.js';
import { CpuMeter } from './usage.js';

/** Called when a condition fires, with the condition and what was seen. */
export type OnFire = (condition: ConditionSpec, message: string) => void;

/**
 * @example
 *   const runner = new ConditionRunner(spec.conditions, { pid, cwd, env }, (c, msg) => restart(msg));
 *   runner.start(); // ... runner.stop() when the process leaves `up`
 */
export class ConditionRunner {
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(
    private readonly conditions: readonly ConditionSpec[],
    private readonly target: ProbeTarget,
    private readonly onFire: OnFire,
  ) {}

  start(): void {
    for (const c of this.conditions) this.#loop(c, [], c.kind === 'cpu' ? new CpuMeter() : undefined);
  }

  /** No check starts after this; a check already running is ignored when it ends. */
  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #loop(c: ConditionSpec, window: boolean[], meter: CpuMeter | undefined): void {
    if (this.#stopped) return;
    // The CPU meter needs a first sample to measure the first interval against.
    if (meter !== undefined && window.length === 0) checkCpu(this.target, Infinity, meter);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      void this.#check(c, meter).then((result) => {
        if (this.#stopped) return;
        const verdict = judge(window, result.failed, c.times, c.of);
        if (verdict.fires) {
          this.onFire(c, `${describeCondition(c)}: ${result.observed}`);
          this.#loop(c, [], meter);
        } else {
          this.#loop(c, verdict.window, meter);
        }
      });
    }, c.intervalMs);
    this.#timers.add(timer);
  }

  async #check(c: ConditionSpec, meter: CpuMeter | undefined): Promise<CheckResult> {
    try {
      switch (c.kind) {
        case 'memory':
          return checkMemory(this.target, c.aboveBytes);
        case 'cpu':
          return checkCpu(this.target, c.abovePercent, meter ?? new CpuMeter());
        case 'http':
          return await checkHttp(c);
        case 'tcp':
          return await checkTcp(c);
        case 'command':
          return await checkCommand(c, this.target);
      }
    } catch (err) {
      return { failed: true, observed: `check failed: ${(err as Error).message}` };
    }
  }
}
