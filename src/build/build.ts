/**
 * `runBuild`: a git repository at a ref becomes a release package in the artifact store.
 *
 *   check args -> clone -> resolve ref -> checkout -> detect -> runtimes -> build -> test -> pack -> check -> store
 *
 * Everything happens in a fresh folder under workDir (the checkout, and the build commands' own
 * HOME and TMPDIR), removed at the end whatever happens: a build never sees another build's files.
 * Fetching is noops's own step and runs with the server's rights (hooks off); everything that
 * comes from the repository runs in the sandbox (sandbox.ts), as the build's own user:
 *
 *   build-XXXX/          root, 0711: the build cannot rename or replace what is in it
 *     src/  home/  tmp/  the build's uid, 0700
 *     release.tar.gz     root: written after every process of the build was killed
 */
import { constants } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ArtifactStore } from '../artifacts/index.js';
import { NoopsError, type ErrorCode } from '../errors/index.js';
import { PACKAGE_SCHEMA, VERSION_LENGTH, validateManifest, type ReleaseManifest } from '../release/index.js';
import { inspectPackage } from '../release/package.js';
import { detectStack } from './detect.js';
import { buildRuntimeEnv, resolveRuntimes, type BuildRuntimes } from './runtimes.js';
import { STATIC_SERVER_FILE } from './stacks.js';
import { Sandbox, type SandboxSession } from './sandbox-run.js';
import { checkRef, checkRepo, checkout, clone, redactRepo, resolveCommit, type GitCredential } from './git.js';
import { writePackage } from './pack.js';
import { readDetectInput } from './sources.js';

/** The static file server the static-site stack writes into a package (see stacks.ts). */
const STATIC_SERVER_SOURCE = fileURLToPath(new URL('../../assets/static-server.mjs', import.meta.url));

/** The time limit of a whole build (clone, build, test): a cold `npm ci` of a big app takes minutes, not tens. */
export const BUILD_TIMEOUT_MS = 10 * 60 * 1000;

/**
 * The variables of the server's environment that build commands see. Build commands are code
 * from the repository: the server's own secrets (tokens, database URLs) stay out of their reach.
 * Anything else a build needs is passed in `env`. HOME and TMPDIR are the build's own.
 */
export const BUILD_ENV_PASSTHROUGH = [
  'PATH',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
] as const;

/**
 * The build log keeps this much of the commands' output as it comes; past it, only the last
 * BUILD_LOG_TAIL characters are kept, written when the commands end. A noisy Maven or webpack
 * build prints about 1 MB; a build printing in a loop must not fill the server's memory or the
 * database (the store caps what it keeps too: docs/limits.md).
 */
export const BUILD_LOG_LIMIT = 4 * 1024 * 1024;

/** The end of the output kept past BUILD_LOG_LIMIT: a failing build's error is at its end. */
export const BUILD_LOG_TAIL = 256 * 1024;

/** What to build. */
export interface BuildOptions {
  /** any URL or path git clones: https://, ssh, git@host:x.git, file://, /srv/repo */
  repo: string;
  /** a commit (full or short), tag or branch */
  ref: string;
  /** the canonical job tag, recorded in the manifest as given */
  job: string;
  /** a folder for the checkout; a fresh sub-folder is made and removed */
  workDir: string;
  artifacts: ArtifactStore;
  /** receives the build's output as it comes, with a `$ command` line before each command; not called again once it throws */
  log: (text: string) => void;
  /** the time limit of the whole build; default {@link BUILD_TIMEOUT_MS} */
  timeoutMs?: number;
  /** extra environment for build and test commands (not for the release: that is noops.yaml's env) */
  env?: Record<string, string>;
  /** the server's runtime catalog; without it, a build that needs a runtime fails with NOOPS_E_RUNTIME_UNKNOWN */
  runtimes?: BuildRuntimes;
  /** for an http(s) repository: handed to git in its environment only (see git.ts credentialEnv) */
  credential?: GitCredential;
  /** where the repository's commands run; the server passes its own. Default: none (unit tests) */
  sandbox?: Sandbox;
  /** names the build on its step containers (`noops.build`, sandbox kind container); the runner passes the build's id */
  owner?: string;
}

/** A built release. */
export interface BuildResult {
  manifest: ReleaseManifest;
  /** of the tar.gz in the artifact store */
  sha256: string;
  size: number;
  /** the full commit hash */
  commit: string;
  /** the first 9 characters of the commit */
  version: string;
}

/**
 * Builds a release package of `repo` at `ref` and puts it in the artifact store.
 *
 * @example
 *   const r = await runBuild({ repo: 'https://git.example.com/shop/api.git', ref: 'main',
 *     job: 'cop.acme_owt.web_pdl.shop_service.api_job.web', workDir: '/var/lib/noops/work',
 *     artifacts: store, log: (t) => process.stdout.write(t) });
 *   r.version // '15b2980f8'
 * @throws NoopsError NOOPS_E_GIT_URL, NOOPS_E_GIT_REF, NOOPS_E_INPUT (before anything runs);
 *   NOOPS_E_GIT_CLONE, NOOPS_E_GIT_CHECKOUT, NOOPS_E_MANIFEST, NOOPS_E_NO_PROCESSES,
 *   NOOPS_E_BUILD_FAILED, NOOPS_E_TEST_FAILED, NOOPS_E_PACKAGE_UNSAFE, NOOPS_E_PACKAGE_INVALID,
 *   NOOPS_E_BUILD_SANDBOX (no sandbox works on this server)
 */
export async function runBuild(opts: BuildOptions): Promise<BuildResult> {
  checkRepo(opts.repo);
  checkRef(opts.ref);
  if (typeof opts.job !== 'string' || opts.job.trim() === '' || /[\0\r\n]/.test(opts.job)) {
    throw new NoopsError('NOOPS_E_INPUT', 'the job tag is empty or contains a NUL or line break');
  }
  const timeoutMs = opts.timeoutMs ?? BUILD_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new NoopsError('NOOPS_E_INPUT', `timeoutMs must be a positive number, not ${timeoutMs}`);
  const deadline = Date.now() + timeoutMs;
  const log = guardLog(opts.log);
  const output = limitLog(log, BUILD_LOG_LIMIT, BUILD_LOG_TAIL);
  const box = (opts.sandbox ?? Sandbox.none()).open(opts.owner);

  let dir: string | undefined;
  try {
    await mkdir(opts.workDir, { recursive: true, mode: 0o711 }); // passable, not listable, by builds' uids
    dir = await mkdtemp(join(opts.workDir, 'build-'));
    await chmod(dir, 0o711); // the build's uid passes through to its folders, and lists nothing
    const src = join(dir, 'src');
    await clone(opts.repo, src, { deadline, log, credential: opts.credential });
    const commit = await resolveCommit(src, opts.ref, { deadline, log });
    await checkout(src, commit, { deadline, log });
    const version = commit.slice(0, VERSION_LENGTH);
    await box.own(src); // from here on the checkout is the build's, and the server only reads it

    const plan = detectStack(await readDetectInput(src));
    log(`noops: building ${opts.job} ${version} (${commit}), stack ${plan.stack}\n`);
    const runtimes = await resolveRuntimes(plan, opts.runtimes);
    runtimes.warnings.forEach(log);

    // The commands' own HOME and TMPDIR: caches and temp files of one build stay in its folder.
    const home = join(dir, 'home');
    const tmp = join(dir, 'tmp');
    await box.mkdir(home);
    await box.mkdir(tmp);
    const runsCommands = plan.build.length + plan.test.length > 0;
    const rtEnv = runsCommands ? await buildRuntimeEnv(runtimes.build, opts.runtimes, process.env.PATH, log) : {};
    const env = buildEnv(opts.job, commit, version, { HOME: home, TMPDIR: tmp, ...rtEnv }, opts.env);
    const step: StepContext = { box, work: dir, cwd: src, env, deadline, log, output: output.write, timeoutMs };
    for (const command of plan.build) await runStep(command, 'build', 'NOOPS_E_BUILD_FAILED', step);
    for (const command of plan.test) await runStep(command, 'test', 'NOOPS_E_TEST_FAILED', step);
    output.end();
    // nothing of the build runs any more while the server reads what it wrote
    await box.stop();

    const manifest = validateManifest({
      schema: PACKAGE_SCHEMA,
      job: opts.job,
      version,
      commit,
      repo: redactRepo(opts.repo), // a password in the URL must not travel with every package
      builtAt: new Date().toISOString(),
      stack: plan.stack,
      env: plan.env,
      ...(Object.keys(plan.secretEnv).length > 0 && { secretEnv: plan.secretEnv }), // names only: values stay on the server
      ...(Object.keys(runtimes.release).length > 0 && { runtimes: runtimes.release }),
      processes: plan.processes,
      crons: plan.crons,
      ...(plan.deployTests.length > 0 ? { deployTests: plan.deployTests } : {}),
      ...(plan.dependsOn && { dependsOn: plan.dependsOn }),
      ...(plan.drainTimeout !== undefined && { drainTimeout: plan.drainTimeout }),
      ...(plan.driver && { driver: plan.driver }),
      ...(plan.image && { image: plan.image }),
      ...(plan.resources && { resources: plan.resources }),
      ...(plan.volumes && { volumes: plan.volumes }),
    });
    if (plan.staticServer) await placeStaticServer(src);
    const file = join(dir, 'release.tar.gz');
    await writePackage({ root: src, manifest, exclude: plan.exclude, file });
    await inspectPackage(file); // the spec's validator: what the server will check, checked here first
    const { sha256, size } = await opts.artifacts.put(file);
    log(`noops: release ${version} packed: ${size} bytes, sha256 ${sha256}\n`);
    return { manifest, sha256, size, commit, version };
  } finally {
    output.end(); // a failed command's last lines, before the error that names it
    // clean up, then let the result or the error through; a failed cleanup must not hide either
    await box.stop().catch((err: Error) => log(`noops: could not stop the build's processes: ${err.message}\n`));
    if (dir) await rm(dir, { recursive: true, force: true }).catch((err: Error) => log(`noops: could not remove ${dir}: ${err.message}\n`));
    await box.close(); // the uid is free for the next build only now that its files are gone
  }
}

/**
 * Writes the static file server into the checkout. The checkout is the build's: `.noops` or the
 * file may be a symlink it made (to the server's database, say), which the server must not write
 * through. Called when the build's processes are gone, so nothing changes between check and write.
 *
 * @throws NoopsError NOOPS_E_PACKAGE_UNSAFE when `.noops` is not a plain folder
 */
async function placeStaticServer(src: string): Promise<void> {
  const file = join(src, STATIC_SERVER_FILE);
  const folder = dirname(file);
  const info = await lstat(folder).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (info && !info.isDirectory()) {
    throw new NoopsError(
      'NOOPS_E_PACKAGE_UNSAFE',
      `${dirname(STATIC_SERVER_FILE)} in the checkout is not a folder (a symlink or a file); noops writes its static server there`,
      {
        hint: `do not create ${dirname(STATIC_SERVER_FILE)} in the repository or the build`,
      },
    );
  }
  if (!info) await mkdir(folder);
  await rm(file, { force: true }); // a symlink there is removed, not followed
  await copyFile(STATIC_SERVER_SOURCE, file, constants.COPYFILE_EXCL); // O_EXCL: never through a symlink
}

/**
 * The commands' output into the log: the first `limit` characters as they come; past them, one
 * line says so and the last `tail` characters are kept, written by `end()` (once). noops's own
 * lines go through `log` as usual.
 */
function limitLog(log: (text: string) => void, limit: number, tail: number): { write: (text: string) => void; end: () => void } {
  let kept = 0;
  let cut = false;
  let dropped = 0;
  let last = '';
  return {
    write(text) {
      if (!cut) {
        if (kept + text.length <= limit) {
          kept += text.length;
          log(text);
          return;
        }
        cut = true;
        log(text.slice(0, limit - kept));
        log(
          `\nnoops: the build's output passed ${limit} characters (BUILD_LOG_LIMIT); only its last ${tail} characters are kept, shown when the commands end\n`,
        );
        text = text.slice(limit - kept);
      }
      last += text;
      if (last.length > tail) {
        dropped += last.length - tail;
        last = last.slice(-tail);
      }
    },
    end() {
      if (!cut || (last === '' && dropped === 0)) return;
      log(`\nnoops: ${dropped} characters of output were cut; the last ${last.length}:\n`);
      log(last);
      last = '';
      dropped = 0;
    },
  };
}

/**
 * A log sink that fails (a closed connection) must neither fail the build nor, called from a
 * stream handler, crash the process: after its first error it is not called again.
 */
function guardLog(log: (text: string) => void): (text: string) => void {
  let broken = false;
  return (text) => {
    if (broken) return;
    try {
      log(text);
    } catch {
      broken = true;
    }
  };
}

/**
 * The environment of build and test commands: a few of the server's variables, then the build's
 * own (HOME, TMPDIR, the runtimes' PATH and exports), then ours, then the caller's.
 */
function buildEnv(
  job: string,
  commit: string,
  version: string,
  own: Record<string, string>,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of BUILD_ENV_PASSTHROUGH) if (process.env[name] !== undefined) env[name] = process.env[name];
  return {
    ...env,
    ...own,
    CI: 'true', // tools turn off prompts, colours and watch modes
    npm_config_update_notifier: 'false', // no registry request to check npm's own version
    NOOPS_JOB: job,
    NOOPS_COMMIT: commit,
    NOOPS_VERSION: version,
    ...extra,
  };
}

interface StepContext {
  box: SandboxSession;
  /** the build's folder: all the step may write */
  work: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  deadline: number;
  timeoutMs: number;
  /** noops's own lines */
  log: (text: string) => void;
  /** the command's output (limited) */
  output: (text: string) => void;
}

/** Runs one build or test command with /bin/sh in the checkout, in the sandbox, streaming its output. */
async function runStep(command: string, kind: 'build' | 'test', code: ErrorCode, ctx: StepContext): Promise<void> {
  ctx.log(`$ ${command}\n`);
  let r: Awaited<ReturnType<typeof ctx.box.run>>;
  try {
    r = await ctx.box.run(['/bin/sh', '-c', command], ctx.work, {
      cwd: ctx.cwd,
      env: ctx.env,
      deadline: ctx.deadline,
      onOutput: ctx.output,
    });
  } catch (err) {
    throw new NoopsError(code, `could not start /bin/sh for the ${kind} command "${command}": ${(err as Error).message}`, { cause: err });
  }
  if (r.timedOut) {
    throw new NoopsError(
      code,
      `the ${kind} command "${command}" was still running at the build's time limit (${ctx.timeoutMs % 1000 === 0 ? `${ctx.timeoutMs / 1000} s` : `${ctx.timeoutMs} ms`}) and was killed`,
    );
  }
  if (r.code !== 0) {
    const how = r.code === null ? `was killed by ${r.signal}` : `failed with exit code ${r.code}`;
    throw new NoopsError(code, `the ${kind} command "${command}" ${how}`);
  }
}
