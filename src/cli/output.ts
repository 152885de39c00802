/** Rendering for people (aligned tables, plain lines) and for programs (--json arrays). */

/** Prints rows as an aligned table with upper-case headers; `(none)` when empty. */
export function table(rows: object[], columns: string[], out: NodeJS.WritableStream = process.stdout): void {
  if (rows.length === 0) {
    out.write('(none)\n');
    return;
  }
  const cells = rows.map((r) => columns.map((c) => cell((r as Record<string, unknown>)[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]): string =>
    vals
      .map((v, i) => (i === vals.length - 1 ? v : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  out.write(`${line(columns.map((c) => c.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()))}\n`);
  for (const row of cells) out.write(`${line(row)}\n`);
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (Array.isArray(v)) return v.join(',');
  if (typeof v === 'object')
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${k}=${String(x)}`)
      .join(',');
  return String(v);
}

/** Every JSON output is an array of objects, in camelCase. */
export function json(rows: unknown[]): void {
  process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
}

/** "3s ago", "2m ago": how long ago an ISO time was. */
export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}
