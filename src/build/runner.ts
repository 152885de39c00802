/**
 * Runs builds on the server, one at a time per job, and records them: the log as it grows,
 * the release when it succeeds, the error when it fails.
 *
 * A named second entry of `build/` (see README.md): it reads and writes the store and signs
 * releases, so it stays out of `build/index.ts`.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { NoopsError } from '../errors/index.js';
import type { ArtifactStore } from '../artifacts/index.js';
import { fenceNodePackageScope } from '../release/index.js';
import { inspectPackage } from '../release/package.js';
import { signReleaseRow, type ReleaseSigner } from '../release/signing.js';
import type { BuildRow, Store } from '../store/index.js';
import type { StoredTree } from '../tree/stored-tree.js';
import { BUILD_TIMEOUT_MS, runBuild } from './build.js';
import type { GitCredential } from './git.js';
import type { BuildRuntimes } from './runtimes.js';
import { Sandbox } from './sandbox-run.js';

/** How often a running build's log is written to the store: live enough to follow, cheap. */
export const BUILD_LOG_FLUSH_MS = 250;

/** One build to run: what `POST /api/v1/builds` asked for. */
export interface BuildJob {
  /** as stored and shown: never with a password (see routes/builds.ts) */
  repo: string;
  job: string;
  ref: string;
  initiator: string;
  /** handed to git for this build only, never stored */
  credential?: GitCredential;
}

/**
 * Starts builds in the background and records them in the store; one build of a job runs at a
 * time, the next waits for it.
 *
 * @example
 *   const runner = new BuildRunner(store, artifacts, tree, '/var/lib/noops/builds', runtimes, sandbox, signer);
 *   const row = await runner.start({ repo, job, ref: 'main', initiator: 'alice' }); // status 'running'
 *   await runner.drain(); // the build has ended; its row says how
 */
export class BuildRunner {
  private readonly running = new Map<number, Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly artifacts: ArtifactStore,
    private readonly tree: StoredTree,
    private readonly workDir: string,
    private readonly runtimes?: BuildRuntimes,
    /** where the repository's commands run (the server's sandbox) */
    private readonly sandbox: Sandbox = Sandbox.none(),
    /** signs each release as it is stored; without one (unit tests) releases are stored unsigned */
    private readonly signer?: ReleaseSigner,
  ) {
    mkdirSync(workDir, { recursive: true, mode: 0o711 });
    fenceNodePackageScope(workDir); // a data folder inside a project must not change how builds run
  }

  /**
   * Starts a build and answers its row at once; the build goes on in the background.
   *
   * @throws NoopsError NOOPS_E_BUILD_SANDBOX when builds cannot run sandboxed here (nothing is recorded)
   */
  async start(req: BuildJob): Promise<BuildRow> {
    if (this.sandbox.kind === undefined) {
      throw new NoopsError('NOOPS_E_BUILD_SANDBOX', `builds cannot run sandboxed on this server: ${this.sandbox.note}`);
    }
    const base: Omit<BuildRow, 'id'> = {
      repo: req.repo,
      job: req.job,
      ref: req.ref,
      status: 'running',
      version: null,
      initiator: req.initiator,
      startedAt: new Date().toISOString(),
      endedAt: null,
      log: '',
      error: null,
    };
    const id = await this.store.tx(async (s) => {
      const created = await s.createBuild(base);
      await s.audit({
        at: base.startedAt,
        actor: req.initiator,
        action: 'build',
        target: req.job,
        detail: { build: created, repo: req.repo, ref: req.ref },
      });
      return created;
    });
    const run = this.inTurn(id, req).finally(() => this.running.delete(id));
    this.running.set(id, run);
    return { id, ...base };
  }

  // ---- one build per job at a time (issue 12: three of one job ran at once)

  /** The last build started of each job: the next one waits for it to end. */
  private readonly lastOfJob = new Map<string, { id: number; done: Promise<void> }>();

  /** Runs the build once the job's previous build has ended; its log says it waits, and until when. */
  private async inTurn(id: number, req: BuildJob): Promise<void> {
    const before = this.lastOfJob.get(req.job);
    let done!: () => void;
    const mine = {
      id,
      done: new Promise<void>((r) => {
        done = r;
      }),
    };
    this.lastOfJob.set(req.job, mine);
    try {
      if (before !== undefined) {
        await this.note(id, `queued: waiting for build #${before.id} of ${req.job} to end (one build per job at a time)\n`);
        await before.done; // never rejects: it is resolved in the finally below
        await this.note(id, `build #${before.id} ended; this build starts at ${new Date().toISOString()}\n`);
      }
      await this.run(id, req);
    } finally {
      done();
      if (this.lastOfJob.get(req.job) === mine) this.lastOfJob.delete(req.job);
    }
  }

  /** A line in the build's log about its turn: a failed write is logged, and the build goes on. */
  private async note(id: number, line: string): Promise<void> {
    try {
      await this.store.appendBuildLog(id, line);
    } catch (err) {
      process.emitWarning(`builds: writing build #${id}'s log failed: ${(err as Error).message}`);
    }
  }

  /** Ends the builds a previous server left running: they cannot go on after a restart. */
  async failInterrupted(): Promise<void> {
    const at = new Date().toISOString();
    for (const b of await this.store.listBuilds({ status: 'running' })) {
      const e = new NoopsError('NOOPS_E_BUILD_FAILED', 'the server stopped while this build ran', { hint: 'start the build again' });
      await this.store.appendBuildLog(b.id, `\nerror ${e.code}: ${e.message}\n`);
      await this.store.updateBuild(b.id, { status: 'failed', endedAt: at, error: JSON.stringify(e.toJSON()) });
    }
  }

  /** Waits for every running build (used on shutdown and in tests). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
  }

  private async run(id: number, req: BuildJob): Promise<void> {
    let pending = '';
    let writing: Promise<void> = Promise.resolve();
    // Appends in order, one at a time (a slow store must not get two at once); text whose
    // write failed goes back to be written with the next, and is logged, not dropped.
    const flush = (): Promise<void> =>
      (writing = writing.then(async () => {
        if (pending === '') return;
        const text = pending;
        pending = '';
        try {
          await this.store.appendBuildLog(id, text);
        } catch (err) {
          pending = text + pending;
          process.emitWarning(`builds: writing build #${id}'s log failed, will retry: ${(err as Error).message}`);
        }
      }));
    const timer = setInterval(() => void flush(), BUILD_LOG_FLUSH_MS);
    try {
      const out = await runBuild({
        repo: req.repo,
        ref: req.ref,
        job: req.job,
        artifacts: this.artifacts,
        workDir: join(this.workDir, String(id)),
        log: (text) => {
          pending += text;
        },
        timeoutMs: BUILD_TIMEOUT_MS,
        runtimes: this.runtimes,
        credential: req.credential,
        sandbox: this.sandbox,
        owner: String(id),
      });
      // The server records only what the package spec allows, whoever wrote the package.
      await inspectPackage(this.artifacts.path(out.sha256));
      const at = new Date().toISOString();
      await this.tree.ensure(req.job);
      const existing = await this.store.getRelease(req.job, out.version);
      if (existing) {
        // A release is immutable: a rebuild of a built commit keeps the package already deployed.
        pending += `\nrelease ${req.job} ${out.version} exists already (sha256 ${existing.sha256}); it is kept and this build's package is not used\n`;
      } else {
        const row = {
          job: req.job,
          version: out.version,
          commit: out.commit,
          repo: req.repo,
          sha256: out.sha256,
          size: out.size,
          manifest: out.manifest as unknown as Record<string, unknown>,
          buildId: id,
          createdAt: at,
        };
        await this.store.putRelease(this.signer ? signReleaseRow(this.signer, row) : row);
        pending += `\nrelease ${req.job} ${out.version} (sha256 ${out.sha256}, ${out.size} bytes)\n`;
      }
      clearInterval(timer);
      await flush();
      await this.store.updateBuild(id, { status: 'succeeded', version: out.version, endedAt: at });
      await this.store.audit({
        at,
        actor: req.initiator,
        action: 'build.succeeded',
        target: req.job,
        detail: { build: id, version: out.version, sha256: out.sha256 },
      });
    } catch (err) {
      const e = err instanceof NoopsError ? err : new NoopsError('NOOPS_E_BUILD_FAILED', (err as Error).message, { cause: err });
      pending += `\nerror ${e.code}: ${e.message}\n`;
      clearInterval(timer);
      const at = new Date().toISOString();
      await flush();
      await this.store.updateBuild(id, { status: 'failed', endedAt: at, error: JSON.stringify(e.toJSON()) });
      await this.store.audit({
        at,
        actor: req.initiator,
        action: 'build.failed',
        target: req.job,
        detail: { build: id, error: e.message },
      });
    } finally {
      clearInterval(timer);
    }
  }
}
