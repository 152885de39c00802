/** Which known version a wanted one means: exact, a prefix (`18` -> newest `18.x.y`), or `*`. */

/** Detection's word for "the newest known version" (a Maven build wants some jdk). */
export const ANY_VERSION = '*';

/**
 * Orders versions the way people read them: part by part (split at `.`, `-`, `+`, `_`), numbers
 * as numbers, other parts as text. `18.9.0` < `18.20.4` < `22.1.0`.
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+_-]/);
  const pb = b.split(/[.+_-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    const c = !Number.isNaN(nx) && !Number.isNaN(ny) ? nx - ny : x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return c < 0 ? -1 : 1;
  }
  return 0;
}

/**
 * The known version `wanted` means: itself when known; `*`: the newest; otherwise the newest
 * version that starts with `wanted` followed by `.`, `-`, `+` or `_` (`18` -> `18.20.4`, never
 * `180.1`). Undefined when none fits.
 *
 * @example resolveVersion('18', ['18.9.0', '18.20.4', '22.1.0']) // '18.20.4'
 */
export function resolveVersion(wanted: string, available: readonly string[]): string | undefined {
  if (available.includes(wanted)) return wanted;
  const fits =
    wanted === ANY_VERSION ? [...available] : available.filter((v) => v.startsWith(wanted) && /^[.+_-]/.test(v.slice(wanted.length)));
  return fits.sort(compareVersions).at(-1);
}
