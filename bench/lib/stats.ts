/** Small statistics for benchmark figures: percentiles by nearest rank, rounding. */

/**
 * The p-th percentile (0..100) of `values` by nearest rank; NaN for no values.
 *
 * @example percentile([5, 1, 4, 2, 3], 50) // 3
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Count, p50, p99 and max of a sample (ms), rounded to 0.1. */
export function summarize(values: readonly number[]): { n: number; p50: number; p99: number; max: number } {
  const max = values.length === 0 ? NaN : values.reduce((m, v) => Math.max(v, m), -Infinity);
  return { n: values.length, p50: round(percentile(values, 50)), p99: round(percentile(values, 99)), max: round(max) };
}

/** Rounds to `digits` decimals (NaN stays NaN). */
export function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/**
 * How a cost grows with N, from (N, cost) pairs: the exponent k of cost ~ N^k fitted between
 * the smallest and the largest N (1 is linear, 2 quadratic, below 1 sublinear), and a word.
 *
 * @example growth([[100, 1], [1000, 10], [10000, 100]]) // { exponent: 1, word: 'linear' }
 */
export function growth(points: readonly (readonly [number, number])[]): { exponent: number; word: string } | null {
  const ok = points.filter(([n, c]) => n > 0 && c > 0 && Number.isFinite(c)).sort((a, b) => a[0] - b[0]);
  if (ok.length < 2) return null;
  const [n0, c0] = ok[0]!;
  const [n1, c1] = ok[ok.length - 1]!;
  if (n1 === n0) return null;
  const exponent = round(Math.log(c1 / c0) / Math.log(n1 / n0), 2);
  const word =
    exponent < 0.3
      ? 'flat'
      : exponent < 0.85
        ? 'sublinear'
        : exponent <= 1.2
          ? 'linear'
          : exponent <= 1.6
            ? 'worse than linear'
            : 'quadratic or worse';
  return { exponent, word };
}
