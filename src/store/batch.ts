/**
 * Batching for multi-row statements, in a few sizes only.
 *
 * SQLite prepares each distinct SQL text, and a multi-row statement's text grows with its rows
 * (`values (?, ?), (?, ?)`, `in (?, ?, ?)`). With any count of rows, a busy server prepared
 * thousands of texts (about 2,000 in a 10,000-agent benchmark run: a statement cache of 256
 * cannot hold them), and a statement's native memory is freed only when the garbage collector
 * takes its small JavaScript object: 30,000 queries with in-lists of 1 to 600 items took a test
 * process from 90 to 828 MB of RSS, against 103 MB with the sizes below.
 */
import type { CompiledQuery, Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Rows per multi-row statement. SQLite allows 32,766 parameters per statement and PostgreSQL
 * 65,535; the widest batched row (an instance) has 13 columns, so 500 rows stay far below both
 * while keeping a 10,000-host heartbeat batch to 20 statements.
 */
export const BATCH_ROWS = 500;

/**
 * Splits `items` into arrays of at most `size` (none for an empty input), in order: as many of
 * `size` as fit, then the rest in powers of two, largest first (700 rows: 500, 128, 64, 8), so
 * that a statement has one of a few texts.
 *
 * @example chunks([1, 2, 3, 4, 5, 6, 7], 4) // [[1, 2, 3, 4], [5, 6], [7]]
 */
export function chunks<T>(items: readonly T[], size: number = BATCH_ROWS): T[][] {
  const out: T[][] = [];
  let i = 0;
  for (; items.length - i >= size; i += size) out.push(items.slice(i, i + size));
  while (i < items.length) {
    const n = 2 ** Math.floor(Math.log2(items.length - i));
    out.push(items.slice(i, i + n));
    i += n;
  }
  return out;
}

/**
 * For an `in (...)` list: arrays of at most `size`, each padded to the next power of two (or to
 * `size`) with its last item again. The same set, one statement per `size` items, and a few texts.
 *
 * @example inChunks(['a', 'b', 'c']) // [['a', 'b', 'c', 'c']]
 */
export function inChunks<T>(items: readonly T[], size: number = BATCH_ROWS): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) {
    const part = items.slice(i, i + size);
    const to = Math.min(size, 2 ** Math.ceil(Math.log2(part.length)));
    while (part.length < to) part.push(part[part.length - 1]!);
    out.push(part);
  }
  return out;
}

/**
 * A multi-row statement whose SQL depends only on its row count: built by kysely once per count
 * (and dialect), then run again with the rows' values as its parameters.
 *
 * kysely builds a node for every value of a statement, freezes it, and compiles them all, at
 * every run: writing a 10,000-host deploy's desired rows spent more CPU building the statements
 * than SQLite spent running them. Here each row gives its values in a fixed order (`values`);
 * `build` makes the statement from rows of those values (the same columns for every row, so the
 * text is the count's). The first build of a count is given each value's index in place of the
 * value, and checks that its parameters are those indexes in order: a statement whose text holds
 * a value, or orders them otherwise, is refused there (a mistake of this code, seen by any test
 * that writes a row).
 *
 * @example
 *   const touch = new RowsStatement((db, rows) => db.insertInto('t').values(rows.map(([a, b]) => ({ a, b }))).compile(), (r: Row) => [r.a, r.b]);
 *   for (const batch of chunks(rows)) await touch.run(trx, batch);
 */
export class RowsStatement<R, O = unknown> {
  /** by dialect (a transaction shares its database's adapter), then by row count */
  private readonly compiled = new WeakMap<object, Map<number, CompiledQuery<O>>>();

  constructor(
    private readonly build: (db: Kysely<Database>, rows: readonly (readonly unknown[])[]) => CompiledQuery<O>,
    private readonly values: (row: R) => readonly unknown[],
  ) {}

  /** Runs the statement over `rows` (none: nothing is run); answers what it selects or returns. */
  async run(db: Kysely<Database>, rows: readonly R[]): Promise<O[]> {
    if (rows.length === 0) return [];
    const parameters: unknown[] = [];
    let width = -1;
    for (const row of rows) {
      const values = this.values(row);
      if (width === -1) width = values.length;
      else if (values.length !== width) throw new Error('RowsStatement: every row gives as many values');
      for (const v of values) parameters.push(v ?? null);
    }
    const adapter = db.getExecutor().adapter;
    let bySize = this.compiled.get(adapter);
    if (bySize === undefined) this.compiled.set(adapter, (bySize = new Map()));
    let query = bySize.get(rows.length);
    if (query === undefined) {
      // Built from placeholders (each value's own index), not the first batch's values: what is
      // kept holds no row, and two equal values swapped by the statement would still be seen.
      query = this.build(
        db,
        rows.map((_, i) => Array.from({ length: width }, (_, k) => i * width + k)),
      );
      const built = query.parameters;
      if (built.length !== parameters.length || built.some((v, i) => v !== i))
        throw new Error(`RowsStatement: the statement's parameters are not the rows' values in order: ${query.sql.slice(0, 200)}`);
      bySize.set(rows.length, query);
    }
    return (await db.executeQuery<O>({ ...query, parameters })).rows;
  }
}
