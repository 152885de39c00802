/**
 * The releases every fleet run deploys, built once by a real server from a real git repository
 * (`noops build`): two tiny ones, ones with a 10 MB and a 100 MB payload of random bytes
 * (random, so that the gzip of the package is as big as the payload), and a warm-up release of
 * the smallest payload's size. The server's data folder
 * is then copied for each run, so every run starts from the same built releases.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiClient } from '../../src/api/index.js';
import { startServer, type ServerDaemon } from '../lib/daemons.js';
import { createDatabase, dropDatabase, urlOf } from './pg.js';

/** The job every fleet run deploys. */
export const JOB = 'cop.bench_owt.fleet_pdl.sim_service.app_job.app';
/** The cluster of a run with `n` hosts. */
export const clusterOf = (label: string): string => `${JOB}_cluster.${label}`;

/**
 * Seconds a new process must stay up to count as started. Short, so that rollout times are the
 * deploy system's and not the app's; long enough that a real process that dies at once is seen.
 */
export const START_GRACE_S = 0.2;
/** "10 MB" and "100 MB" are MiB, as `ls -h` and `du -h` count them. */
const MIB = 1024 * 1024;
/** How long one build may take: 100 MB of random bytes through git, tar and gzip on a busy machine. */
const BUILD_TIMEOUT_MS = 10 * 60_000;

export interface SeedRelease {
  version: string;
  sha256: string;
  /** bytes of the package */
  size: number;
}

export interface Seed {
  /** a built server data folder: copy it with `copySeed` */
  dataDir: string;
  tinyA: SeedRelease;
  tinyB: SeedRelease;
  /** payload releases by their size in MiB */
  payload: Record<number, SeedRelease>;
  /**
   * a release of the smallest payload's size with bytes of its own, rolled out once before the
   * measured rollouts (sim-run.ts, "warm-up"); undefined when there is no payload
   */
  warmUp?: SeedRelease & { mib: number };
  /** the seed's PostgreSQL database and the URL it was made through (pg.ts); absent on SQLite */
  db?: { admin: string; name: string };
}

/** A value of an environment variable of the seed's releases (NOOPS_BENCH_FLEET_ENV): a setting's length, as an address or a URL is. */
const ENV_VALUE = 'https://config.example.internal/service/value';

/** The most environment variables NOOPS_BENCH_FLEET_ENV may give the seed's releases. */
export const MAX_ENV_VARS = 1000;

/**
 * NOOPS_BENCH_FLEET_ENV=N: the seed's releases carry N environment variables (about 64 bytes of
 * manifest each: 100 make a manifest of about 7 kB, as a service's settings do), so that what a
 * manifest's size costs a deploy and its answers is measured (0, the default: a manifest of
 * about 400 bytes). Anything but an integer from 0 to MAX_ENV_VARS is an error.
 */
export function seedEnvVars(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.NOOPS_BENCH_FLEET_ENV;
  if (text === undefined || text === '') return 0;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > MAX_ENV_VARS)
    throw new Error(
      `NOOPS_BENCH_FLEET_ENV must be a count of environment variables from 0 to ${MAX_ENV_VARS}, not ${JSON.stringify(text)}`,
    );
  return n;
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=bench@noops', '-c', 'user.name=bench', '-c', 'init.defaultBranch=main', ...args], {
    cwd,
    encoding: 'utf8',
  }).trim();
}

/**
 * Builds the seed releases in `dir` (payload sizes in MiB); takes seconds to a minute. With
 * `dbAdmin` (NOOPS_BENCH_FLEET_DB, pg.ts) the server keeps them in a PostgreSQL database of
 * their own: drop it with `dropSeed`.
 */
export async function makeSeed(dir: string, payloadMiB: number[], dbAdmin?: string, envVars = 0): Promise<Seed> {
  const repo = join(dir, 'repo');
  mkdirSync(repo, { recursive: true });
  git(repo, 'init', '-q');
  // `sleep` stands for the service: a real process that runs until it is told to stop.
  writeFileSync(
    join(repo, 'noops.yaml'),
    [
      ...(envVars > 0 ? ['env:', ...Array.from({ length: envVars }, (_, i) => `  SETTING_${i}: "${ENV_VALUE}-${i}"`)] : []),
      'processes:',
      '  app:',
      '    command: exec sleep 86400',
      '    port: null',
      `    start_grace: ${START_GRACE_S}`,
      '    stop_timeout: 2',
      '',
    ].join('\n'),
  );
  const commits: { name: string; commit: string }[] = [];
  const commit = (name: string, files: Record<string, Buffer | string>, remove: string[] = []): void => {
    for (const [f, content] of Object.entries(files)) writeFileSync(join(repo, f), content);
    for (const f of remove) rmSync(join(repo, f));
    git(repo, 'add', '-A');
    git(repo, 'commit', '-q', '-m', name);
    commits.push({ name, commit: git(repo, 'rev-parse', 'HEAD') });
  };
  commit('tiny-a', { 'VERSION.txt': 'a\n' });
  commit('tiny-b', { 'VERSION.txt': 'b\n' });
  let previous: string | undefined;
  for (const mib of payloadMiB) {
    const name = `payload-${mib}m.bin`;
    commit(`payload-${mib}`, { [name]: randomBytes(mib * MIB) }, previous ? [previous] : []);
    previous = name;
  }
  const smallest = Math.min(...payloadMiB);
  if (payloadMiB.length > 0) {
    const name = `warm-up-${smallest}m.bin`;
    commit('warm-up', { [name]: randomBytes(smallest * MIB) }, previous ? [previous] : []);
  }

  const dataDir = join(dir, 'seed-data');
  const db = dbAdmin === undefined ? undefined : { admin: dbAdmin, name: await createDatabase(dbAdmin, 'seed') };
  const built: Record<string, SeedRelease> = {};
  try {
    const server = await startServer(dataDir, db ? ['--db', urlOf(db.admin, db.name)] : []);
    try {
      for (const c of commits) built[c.name] = await build(server.api, repo, c.commit);
    } finally {
      await server.stop();
    }
  } catch (err) {
    if (db) await dropDatabase(db.admin, db.name);
    throw err;
  }
  return {
    dataDir,
    tinyA: built['tiny-a']!,
    tinyB: built['tiny-b']!,
    payload: Object.fromEntries(payloadMiB.map((m) => [m, built[`payload-${m}`]!])),
    ...(built['warm-up'] && { warmUp: { ...built['warm-up'], mib: smallest } }),
    ...(db && { db }),
  };
}

async function build(api: ApiClient, repo: string, commit: string): Promise<SeedRelease> {
  const started = await api.startBuild({ repo, tag: JOB, ref: commit });
  const deadline = Date.now() + BUILD_TIMEOUT_MS;
  for (;;) {
    const { build: b } = await api.build(started.id, Number.MAX_SAFE_INTEGER);
    if (b.status === 'failed') throw new Error(`the seed build of ${commit} failed: ${b.error?.message}`);
    if (b.status === 'succeeded') {
      const release = (await api.releases(JOB)).find((r) => r.version === b.version);
      if (!release) throw new Error(`build #${b.id} succeeded but release ${b.version} is not listed`);
      return { version: release.version, sha256: release.sha256, size: release.size };
    }
    if (Date.now() > deadline) throw new Error(`the seed build of ${commit} took over ${BUILD_TIMEOUT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A fresh copy of the seed's server data folder, for one run. */
export function copySeed(seed: Seed, dest: string): string {
  cpSync(seed.dataDir, dest, { recursive: true });
  return dest;
}

/**
 * A run's server on fresh copies of the seed: its data folder in `dest`, and on PostgreSQL a
 * database of its own, which `stop` drops once the server stopped. `extra`: more arguments for
 * `noops server` (`--tls auto`).
 */
export async function startSeedServer(seed: Seed, dest: string, extra: string[] = []): Promise<ServerDaemon> {
  const db = seed.db;
  const name = db && (await createDatabase(db.admin, 'run', db.name));
  const drop = async (): Promise<void> => {
    if (db && name) await dropDatabase(db.admin, name);
  };
  let server: ServerDaemon;
  try {
    server = await startServer(copySeed(seed, dest), [...extra, ...(db && name ? ['--db', urlOf(db.admin, name)] : [])]);
  } catch (err) {
    await drop();
    throw err;
  }
  const stop = server.stop;
  return {
    ...server,
    stop: async (graceMs) => {
      await stop(graceMs);
      await drop();
    },
  };
}

/** Drops the seed's database, if it has one. */
export async function dropSeed(seed: Seed): Promise<void> {
  if (seed.db) await dropDatabase(seed.db.admin, seed.db.name);
}
