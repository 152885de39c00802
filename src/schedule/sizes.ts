/** Sizes and cores as the reasons show them: `256M`, `1.5G`, `0.5`. */

const UNITS = ['', 'K', 'M', 'G', 'T', 'P'] as const;

/** Bytes in the units `--memory 256M` takes (powers of 1024), one decimal at most: `1.5G`, `100M`. */
export function formatSize(bytes: number): string {
  let n = Math.max(0, bytes);
  let u = 0;
  while (n >= 1024 && u < UNITS.length - 1) {
    n /= 1024;
    u++;
  }
  const shown = n >= 100 || u === 0 ? Math.round(n) : Math.round(n * 10) / 10;
  return `${shown}${UNITS[u]}`;
}

/** Cores with up to three decimals: `0.5`, `2`, `0.125`. */
export function formatCores(cores: number): string {
  return String(Math.round(Math.max(0, cores) * 1000) / 1000);
}
