/**
 * The git side of a build: argument checks at the edge, argv builders (pure), and the three
 * steps (clone, resolve the ref, check out) run without a shell.
 */
import { NoopsError, type ErrorCode } from '../errors/index.js';
import { run } from './exec.js';

/** Characters that must never reach git's command line: they could split or end an argument. */
const FORBIDDEN = /[\0\r\n]/;

/**
 * Environment variables that would point git at another repository than the one we clone, had
 * the server been started from inside a git hook or a worktree.
 */
const GIT_LOCATION_VARS = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_COMMON_DIR', 'GIT_NAMESPACE'];

/** Checks a repository URL or path before git sees it. @throws NoopsError NOOPS_E_GIT_URL */
export function checkRepo(repo: string): void {
  checkArg(repo, 'repository', 'NOOPS_E_GIT_URL');
}

/** Checks a commit, tag or branch before git sees it. @throws NoopsError NOOPS_E_GIT_REF */
export function checkRef(ref: string): void {
  checkArg(ref, 'ref', 'NOOPS_E_GIT_REF');
}

function checkArg(value: string, what: string, code: ErrorCode): void {
  if (typeof value !== 'string' || value.trim() === '') throw new NoopsError(code, `the ${what} is empty`);
  // an argument that begins with "-" would be read by git as an option (--upload-pack=...)
  if (value.startsWith('-')) throw new NoopsError(code, `the ${what} "${value}" begins with "-"`);
  if (FORBIDDEN.test(value)) throw new NoopsError(code, `the ${what} contains a NUL or line break`);
}

/**
 * A URL without its password, for logs and manifests: `https://user:secret@host/x` gives
 * `https://user@host/x`. Paths and scp-like addresses (`git@host:x.git`) come back unchanged.
 */
export function redactRepo(repo: string): string {
  return repo.replace(/\b([a-z][a-z0-9+.-]*:\/\/[^/@:\s]*):[^/@\s]*@/gi, '$1@');
}

/**
 * Options of every git command of a build. Fetching runs with the server's rights, so nothing of
 * the repository or the machine's git config may run a program: no hooks, and no `ext::` URLs
 * (they run commands), whatever the git config says.
 */
export const GIT_SAFE = ['-c', 'core.hooksPath=/dev/null', '-c', 'protocol.ext.allow=never'] as const;

/** argv of `git clone`. */
export function cloneArgs(repo: string, dir: string): string[] {
  return [...GIT_SAFE, 'clone', '--quiet', '--no-checkout', '--', repo, dir];
}

/** argv of `git rev-parse` resolving a ref to the full hash of a commit. */
export function revParseArgs(ref: string): string[] {
  return [...GIT_SAFE, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`];
}

/** argv of `git checkout` of one commit, detached. */
export function checkoutArgs(commit: string): string[] {
  return [...GIT_SAFE, 'checkout', '--quiet', '--detach', commit, '--'];
}

/** The environment git runs in: never prompts, and never uses another repository. */
export function gitEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, GIT_TERMINAL_PROMPT: '0' };
  for (const name of GIT_LOCATION_VARS) delete env[name];
  return env;
}

/** Where git runs and until when. */
export interface GitContext {
  deadline: number;
  log: (text: string) => void;
}

/**
 * Clones `repo` into `dir` (which must not exist) without checking out.
 *
 * @throws NoopsError NOOPS_E_GIT_CLONE with git's message
 */
export async function clone(repo: string, dir: string, ctx: GitContext): Promise<void> {
  ctx.log(`$ git clone --no-checkout -- ${redactRepo(repo)}\n`);
  const r = await git(cloneArgs(repo, dir), undefined, ctx, 'NOOPS_E_GIT_CLONE');
  if (r.timedOut) throw new NoopsError('NOOPS_E_GIT_CLONE', `git clone of ${redactRepo(repo)} did not finish before the build's time limit`);
  if (r.code !== 0) throw new NoopsError('NOOPS_E_GIT_CLONE', `git clone of ${redactRepo(repo)} failed: ${gitMessage(r.stderr)}`);
}

/**
 * The full hash of the commit `ref` names: a hash (short or full), a tag, a branch of the
 * repository (`main`, or any branch: `origin/<ref>` is tried second).
 *
 * @throws NoopsError NOOPS_E_GIT_CHECKOUT when it names no commit
 */
export async function resolveCommit(dir: string, ref: string, ctx: GitContext): Promise<string> {
  for (const candidate of [ref, `refs/remotes/origin/${ref}`]) {
    const r = await git(revParseArgs(candidate), dir, ctx, 'NOOPS_E_GIT_CHECKOUT');
    if (r.timedOut) throw new NoopsError('NOOPS_E_GIT_CHECKOUT', `git rev-parse ${ref} did not finish before the build's time limit`);
    const commit = r.stdout.trim();
    if (r.code === 0 && /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(commit)) return commit;
  }
  throw new NoopsError('NOOPS_E_GIT_CHECKOUT', `"${ref}" names no commit of the repository (not a commit, tag or branch)`);
}

/** Checks out one commit, detached. @throws NoopsError NOOPS_E_GIT_CHECKOUT */
export async function checkout(dir: string, commit: string, ctx: GitContext): Promise<void> {
  ctx.log(`$ git checkout --detach ${commit}\n`);
  const r = await git(checkoutArgs(commit), dir, ctx, 'NOOPS_E_GIT_CHECKOUT');
  if (r.timedOut) throw new NoopsError('NOOPS_E_GIT_CHECKOUT', `git checkout of ${commit} did not finish before the build's time limit`);
  if (r.code !== 0) throw new NoopsError('NOOPS_E_GIT_CHECKOUT', `git checkout of ${commit} failed: ${gitMessage(r.stderr)}`);
}

async function git(args: string[], cwd: string | undefined, ctx: GitContext, code: ErrorCode) {
  try {
    return await run('git', args, { cwd, env: gitEnv(), deadline: ctx.deadline });
  } catch (err) {
    throw new NoopsError(code, `could not run git: ${(err as Error).message}`, { cause: err, hint: 'install git on the build server' });
  }
}

/** git's own words, on one line, without its "fatal: " prefixes. */
function gitMessage(stderr: string): string {
  const text = stderr
    .split('\n')
    .map((line) => line.replace(/^(fatal|error): /, '').trim())
    .filter((line) => line !== '')
    .join('; ');
  return text === '' ? 'git gave no reason' : redactRepo(text);
}
