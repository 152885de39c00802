/** Plain-text tables for benchmark output: a title, a header row, and aligned columns. */

export type Cell = string | number | null | undefined;

/**
 * Renders rows under headers; numbers are right-aligned, null and undefined print as "-".
 *
 * @example
 *   table('Heartbeats', ['agents', 'p99 ms'], [[100, 2.5], [1000, 4]])
 */
export function table(title: string, headers: string[], rows: Cell[][]): string {
  const text = rows.map((r) => headers.map((_, i) => show(r[i])));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]!.length)));
  const numeric = headers.map((_, i) => rows.every((r) => r[i] === null || r[i] === undefined || typeof r[i] === 'number'));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [`${title}`, line(headers), line(widths.map((w) => '-'.repeat(w))), ...text.map(line), ''].join('\n');
}

function show(c: Cell): string {
  if (c === null || c === undefined || (typeof c === 'number' && Number.isNaN(c))) return '-';
  return String(c);
}
