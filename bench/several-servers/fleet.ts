/**
 * The set-up both measurements share: three real `noops server` processes (bin/noops) on one
 * fresh PostgreSQL database, each with its own data folder and port, the key files shared as
 * docs/trust.md says; one tiny release built through the first; and hosts that are only
 * identities (joined through the API, never reporting): the long polls and deployments the
 * measurements need, without the cost of agent processes on the same two cores.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mapLimit } from '../lib/limit.js';
import { createTestDatabase, freePort, shareServerKeys, startServer, until, type TestDatabase } from '../../test/e2e/harness.js';
import { apiOf, leaseArgs, type ServerNode } from '../../test/e2e/servers-fleet.js';

/** The job every run deploys. */
export const JOB = 'cop.bench_owt.ha_pdl.noops_service.bench_job.app';
/** Joins sent at once: each is a few database writes. */
const JOIN_CONCURRENCY = 32;
/** A build on a busy machine (git, tar, gzip, the sandbox) may take this long. */
const BUILD_TIMEOUT_MS = 120_000;

export interface Fleet {
  db: TestDatabase;
  nodes: ServerNode[];
  /** the tiny release built through the first server */
  version: string;
  /** restarts a stopped node on its folder and port (same id) */
  restart(n: ServerNode): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `count` servers on a fresh database beside `pgUrl` (the first builds the release). */
export async function startFleet(pgUrl: string, dir: string, count: number, leaseMs: number): Promise<Fleet> {
  const db = await createTestDatabase(pgUrl, 'noops_bench_several');
  const nodes: ServerNode[] = [];
  const launch = (id: string, port: number) => startServer(join(dir, id), port, ['--db', db.url, ...leaseArgs(id, leaseMs)]);
  const fleet: Fleet = {
    db,
    nodes,
    version: '',
    async restart(n) {
      n.proc = await launch(n.id, n.port);
    },
    async stop() {
      for (const n of nodes) n.proc.child.kill('SIGCONT');
      await Promise.all(nodes.map((n) => n.proc.stop()));
      await db.drop();
    },
  };
  try {
    const ids = Array.from({ length: count }, (_, i) => String.fromCharCode(97 + i)); // a, b, c
    for (const id of ids) {
      const port = await freePort();
      if (id !== 'a') shareServerKeys(join(dir, 'a'), join(dir, id)); // the first one made them
      nodes.push({ id, data: join(dir, id), port, proc: await launch(id, port) });
    }
    fleet.version = await buildTiny(nodes[0]!, join(dir, 'repo'));
    return fleet;
  } catch (err) {
    await fleet.stop();
    throw err;
  }
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=bench@noops', '-c', 'user.name=bench', '-c', 'init.defaultBranch=main', ...args], {
    cwd,
    encoding: 'utf8',
  }).trim();
}

/** A release whose process is `sleep` (no runtime to install), built through `via`. */
async function buildTiny(via: ServerNode, repo: string): Promise<string> {
  mkdirSync(repo, { recursive: true });
  git(repo, 'init', '-q');
  writeFileSync(join(repo, 'noops.yaml'), ['processes:', '  app:', '    command: exec sleep 86400', '    port: null', ''].join('\n'));
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'tiny');
  const api = apiOf(via.proc);
  const started = await api.startBuild({ repo, tag: JOB, ref: git(repo, 'rev-parse', 'HEAD') });
  const done = await until(
    'the build',
    async () => {
      const { build } = await api.build(started.id);
      return build.status !== 'running' && build;
    },
    BUILD_TIMEOUT_MS,
    200,
  );
  if (done.status !== 'succeeded') throw new Error(`the build failed: ${JSON.stringify(done.error)}`);
  return done.version!;
}

/** A host that is only an identity: joined through the API, its agent token kept. */
export interface PaperHost {
  name: string;
  token: string;
}

/** Joins `names` through `via` with its join token; answers their agent tokens. */
export async function joinPaperHosts(via: ServerNode, names: string[]): Promise<PaperHost[]> {
  const settled = await mapLimit(names, JOIN_CONCURRENCY, async (name) => {
    const res = await fetch(`${via.proc.url}/api/v1/agent/join`, {
      method: 'POST',
      headers: { authorization: `Bearer ${via.proc.joinToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });
    if (!res.ok) throw new Error(`join ${name}: ${res.status} ${await res.text()}`);
    return { name, token: ((await res.json()) as { token: string }).token };
  });
  return settled.map((s) => {
    if (s.status === 'rejected') throw s.reason;
    return s.value;
  });
}
