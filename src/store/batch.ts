/**
 * Batching for multi-row statements.
 */

/**
 * Rows per multi-row statement. SQLite allows 32,766 parameters per statement and PostgreSQL
 * 65,535; the widest batched row (an instance) has 11 columns, so 500 rows stay far below both
 * while keeping a 10,000-host heartbeat batch to 20 statements.
 */
export const BATCH_ROWS = 500;

/** Splits `items` into arrays of at most `size` (none for an empty input). */
export function chunks<T>(items: readonly T[], size: number = BATCH_ROWS): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
