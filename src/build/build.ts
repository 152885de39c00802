/**
 * `runBuild`: a git repository at a ref becomes a release package in the artifact store.
 *
 *   check args -> clone -> resolve ref -> checkout -> detect -> runtimes -> build -> test -> pack -> check -> store
 *
 * Everything happens in a fresh folder under workDir (the checkout, and the build commands' own
 * HOME and TMPDIR), removed at the end whatever happens: a build never sees another build's files.
 */
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ArtifactStore } from '../artifacts/index.js';
import { NoopsError, type ErrorCode } from '../errors/index.js';
import { PACKAGE_SCHEMA, VERSION_LENGTH, inspectPackage, validateManifest, type ReleaseManifest } from '../release/index.js';
import { detectStack } from './detect.js';
import { buildRuntimeEnv, resolveRuntimes, type BuildRuntimes } from './runtimes.js';
import { STATIC_SERVER_FILE } from './stacks.js';
import { run } from './exec.js';
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
  'PATH', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ',
  'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy',
  'NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR',
] as const;

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
 *   NOOPS_E_BUILD_FAILED, NOOPS_E_TEST_FAILED, NOOPS_E_PACKAGE_UNSAFE, NOOPS_E_PACKAGE_INVALID
 */
export async function runBuild(opts: BuildOptions): Promise<BuildResult> {
  checkRepo(opts.repo);
  checkRef(opts.ref);
  if (typeof opts.job !== 'string' || opts.job.trim() === '' || /[\0\r\n]/.test(opts.job)) {
    throw new NoopsError('NOOPS_E_INPUT', 'the job tag is empty or contains a NUL or line break');
  }
  const timeoutMs = opts.timeoutMs ?? BUILD_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new NoopsError('NOOPS_E_INPUT', `timeoutMs must be a positive number, not ${timeoutMs}`);
  const deadline = Date.now() + timeoutMs;
  const log = guardLog(opts.log);

  await mkdir(opts.workDir, { recursive: true });
  const dir = await mkdtemp(join(opts.workDir, 'build-'));
  try {
    const src = join(dir, 'src');
    await clone(opts.repo, src, { deadline, log, credential: opts.credential });
    const commit = await resolveCommit(src, opts.ref, { deadline, log });
    await checkout(src, commit, { deadline, log });
    const version = commit.slice(0, VERSION_LENGTH);

    const plan = detectStack(await readDetectInput(src));
    log(`noops: building ${opts.job} ${version} (${commit}), stack ${plan.stack}\n`);
    const runtimes = await resolveRuntimes(plan, opts.runtimes);
    runtimes.warnings.forEach(log);

    // The commands' own HOME and TMPDIR: caches and temp files of one build stay in its folder.
    const home = join(dir, 'home');
    const tmp = join(dir, 'tmp');
    await mkdir(home);
    await mkdir(tmp);
    const runsCommands = plan.build.length + plan.test.length > 0;
    const rtEnv = runsCommands ? await buildRuntimeEnv(runtimes.build, opts.runtimes, process.env.PATH, log) : {};
    const env = buildEnv(opts.job, commit, version, { HOME: home, TMPDIR: tmp, ...rtEnv }, opts.env);
    const step = { cwd: src, env, deadline, log, timeoutMs };
    for (const command of plan.build) await runStep(command, 'build', 'NOOPS_E_BUILD_FAILED', step);
    for (const command of plan.test) await runStep(command, 'test', 'NOOPS_E_TEST_FAILED', step);

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
    });
    if (plan.staticServer) {
      await mkdir(dirname(join(src, STATIC_SERVER_FILE)), { recursive: true });
      await copyFile(STATIC_SERVER_SOURCE, join(src, STATIC_SERVER_FILE));
    }
    const file = join(dir, 'release.tar.gz');
    await writePackage({ root: src, manifest, exclude: plan.exclude, file });
    await inspectPackage(file); // the spec's validator: what the server will check, checked here first
    const { sha256, size } = await opts.artifacts.put(file);
    log(`noops: release ${version} packed: ${size} bytes, sha256 ${sha256}\n`);
    return { manifest, sha256, size, commit, version };
  } finally {
    // clean up, then let the result or the error through; a failed cleanup must not hide either
    await rm(dir, { recursive: true, force: true }).catch((err: Error) => log(`noops: could not remove ${dir}: ${err.message}\n`));
  }
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
function buildEnv(job: string, commit: string, version: string, own: Record<string, string>, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
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
  cwd: string;
  env: NodeJS.ProcessEnv;
  deadline: number;
  timeoutMs: number;
  log: (text: string) => void;
}

/** Runs one build or test command with /bin/sh in the checkout, streaming its output. */
async function runStep(command: string, kind: 'build' | 'test', code: ErrorCode, ctx: StepContext): Promise<void> {
  ctx.log(`$ ${command}\n`);
  let r;
  try {
    r = await run('/bin/sh', ['-c', command], { cwd: ctx.cwd, env: ctx.env, deadline: ctx.deadline, onOutput: ctx.log });
  } catch (err) {
    throw new NoopsError(code, `could not start /bin/sh for the ${kind} command "${command}": ${(err as Error).message}`, { cause: err });
  }
  if (r.timedOut) {
    throw new NoopsError(code, `the ${kind} command "${command}" was still running at the build's time limit (${ctx.timeoutMs % 1000 === 0 ? `${ctx.timeoutMs / 1000} s` : `${ctx.timeoutMs} ms`}) and was killed`);
  }
  if (r.code !== 0) {
    const how = r.code === null ? `was killed by ${r.signal}` : `failed with exit code ${r.code}`;
    throw new NoopsError(code, `the ${kind} command "${command}" ${how}`);
  }
}
