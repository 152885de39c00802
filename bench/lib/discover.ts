/**
 * Finding the benchmarks: every `bench/<name>/index.ts` whose module exports
 * `run(opts: { quick: boolean }): Promise<unknown>`. A folder without one is skipped (lib/,
 * results/); a module that exports something else under `run` is an error.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface Benchmark {
  name: string;
  run(opts: { quick: boolean }): Promise<unknown>;
}

/** The benchmark folders under `dir`, by name. */
export function benchmarkDirs(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => statSync(join(dir, name)).isDirectory() && existsSync(join(dir, name, 'index.ts')))
    .sort();
}

/** Imports each benchmark folder's index.ts and keeps those that export `run`. */
export async function discover(dir: string, only: readonly string[] = []): Promise<Benchmark[]> {
  const out: Benchmark[] = [];
  const names = benchmarkDirs(dir);
  const unknown = only.filter((n) => !names.includes(n));
  if (unknown.length > 0) throw new Error(`no benchmark named ${unknown.join(', ')} (there are: ${names.join(', ')})`);
  for (const name of names) {
    if (only.length > 0 && !only.includes(name)) continue;
    const mod = (await import(pathToFileURL(join(dir, name, 'index.ts')).href)) as { run?: unknown };
    if (mod.run === undefined) continue;
    if (typeof mod.run !== 'function') throw new Error(`bench/${name}/index.ts exports "run" that is not a function`);
    out.push({ name, run: mod.run as Benchmark['run'] });
  }
  return out;
}
