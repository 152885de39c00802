/**
 * The judge loop's per-point path (judge-loop.ts), apart so that bench/judge runs exactly it:
 * each point's series by the store's series id (an array read) or by key, its candidates kept
 * per series while the strategy book's generation holds, the judge's push by series number; and
 * which series were met since this server leads (to seed their history once).
 */
import type { JudgeEvent, JudgeStrategy } from '../judge/types.js';
import type { FeedPoint } from '../metrics/ports.js';
import type { JudgePort, StrategyPort } from './ports.js';

/** Per series number: the candidates the book answered, and the book's generation then (-1: none). */
export class SeriesCandidates {
  private lists: Array<readonly JudgeStrategy[] | undefined> = [];
  private gens = new Int32Array(1024).fill(-1);

  get(series: number, generation: number): readonly JudgeStrategy[] | undefined {
    return series < this.gens.length && this.gens[series] === generation ? this.lists[series] : undefined;
  }

  set(series: number, generation: number, list: readonly JudgeStrategy[]): void {
    if (series >= this.gens.length) {
      const next = new Int32Array(Math.max(series + 1, this.gens.length * 2)).fill(-1);
      next.set(this.gens);
      this.gens = next;
    }
    // dense (one entry per number, in order): V8 keeps such arrays fast
    while (this.lists.length <= series) this.lists.push(undefined);
    this.lists[series] = list;
    this.gens[series] = generation;
  }
}

/**
 * The series met since this server leads (their history given to the judge): by the store's
 * series id when the point has one (an array read per point, no key hashed), else by key.
 */
export class SeededSeries {
  private byId = new Uint8Array(0);
  private ids = 0;
  private readonly keys = new Set<string>();

  has(seriesId: number | undefined, key: string): boolean {
    if (seriesId !== undefined && seriesId < this.byId.length && this.byId[seriesId] === 1) return true;
    return this.keys.has(key);
  }

  add(seriesId: number | undefined, key: string): void {
    // an id far beyond those met (or not a whole number) is remembered by its key, as the judge does
    if (seriesId === undefined || !Number.isInteger(seriesId) || seriesId < 0 || seriesId >= 16 * this.ids + (1 << 16)) {
      this.keys.add(key);
      return;
    }
    if (seriesId >= this.byId.length) {
      const next = new Uint8Array(Math.max(seriesId + 1, this.byId.length * 2, 1024));
      next.set(this.byId);
      this.byId = next;
    }
    this.byId[seriesId] = 1;
    this.ids++;
  }
}

/** A judge that numbers series (by key; by the store's series id when it has `seriesOf`) and judges by number. */
export type NumberingJudge = JudgePort & Required<Pick<JudgePort, 'seriesId' | 'pushSeries'>>;
/** A strategy book that answers once per series, until its generation changes. */
export type GenerationalBook = Pick<StrategyPort, 'forPoint'> & Required<Pick<StrategyPort, 'candidatesOf' | 'generation'>>;

export function isFast(judge: JudgePort, book: StrategyPort): boolean {
  return judge.seriesId !== undefined && judge.pushSeries !== undefined && book.candidatesOf !== undefined && book.generation !== undefined;
}

/**
 * The loop's per-point path (what bench/judge runs too): each point's series by the store's id
 * when the feed gives one (an array read: no string hashed), else by its key (one Map lookup);
 * its candidates kept per series while the book's generation holds; judged at `clock()`, read
 * once for the batch; the events sent appended to `events`, in order.
 */
export function judgeBatch(
  judge: NumberingJudge,
  book: GenerationalBook,
  points: readonly FeedPoint[],
  kept: SeriesCandidates,
  clock: () => number,
  events: JudgeEvent[],
): void {
  const generation = book.generation();
  const byId = judge.seriesOf !== undefined;
  // one reading of the clock for the batch: it is judged in milliseconds, and nothing the judge
  // weighs is finer than a second (minInterval, a strategy's run window)
  const now = clock();
  const nowSeconds = now / 1000;
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    const id = p.seriesId;
    const s = id === undefined || !byId ? judge.seriesId(p.key) : judge.seriesOf!(id, p.key);
    let candidates = kept.get(s, generation);
    if (candidates === undefined) {
      const answer = book.candidatesOf(p, new Date(now));
      candidates = answer.strategies;
      if (answer.holds) kept.set(s, generation, candidates);
    }
    const sent = judge.pushSeries(s, p.key, p, nowSeconds, candidates);
    for (let j = 0; j < sent.length; j++) events.push(sent[j]!);
  }
}
