/**
 * The fleet benchmark's servers on PostgreSQL: NOOPS_BENCH_FLEET_DB=postgres://ROLE:PASS@HOST/DB
 * (a role with CREATEDB, and a database it may connect to; scripts/pg-setup.sh makes one) runs
 * the seed's server and every run's server with `--db` on a database of their own, as a fleet
 * of several servers runs (docs/servers.md). The seed's releases are built once into a
 * database `noops_bench_seed_*`; each run gets a copy of it (`CREATE DATABASE ... TEMPLATE`),
 * as it gets a copy of the seed's data folder, and drops it at its end. Unset: SQLite in the
 * data folder, as before.
 */
import { randomBytes } from 'node:crypto';
import { pgAdmin } from '../../src/store/test-pg.js';

/** The URL the benchmark creates and drops its databases through, or undefined (SQLite). */
export function benchDb(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const url = env.NOOPS_BENCH_FLEET_DB;
  if (url === undefined || url === '') return undefined;
  if (!/^postgres(ql)?:\/\//.test(url)) throw new Error(`NOOPS_BENCH_FLEET_DB must be a postgres:// URL, not ${JSON.stringify(url)}`);
  return url;
}

/** `admin`'s URL with the database `name` in place of its own. */
export function urlOf(admin: string, name: string): string {
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A database of the benchmark's own (`prefix` and random hex: a name, never a caller's text), empty or a copy of `template`. */
export async function createDatabase(adminUrl: string, prefix: 'seed' | 'run', template?: string): Promise<string> {
  const name = `noops_bench_${prefix}_${randomBytes(6).toString('hex')}`;
  await pgAdmin(`create database ${name}${template ? ` template ${template}` : ''}`, adminUrl);
  return name;
}

/** Drops a database `createDatabase` made; a failure is a warning (the run's figures still count). */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await pgAdmin(`drop database if exists ${name} with (force)`, adminUrl).catch((err: Error) =>
    process.emitWarning(`could not drop the benchmark's database ${name}: ${err.message}`),
  );
}
